/* Test oracle: spandsp's G.711 (spandsp/g711.h). Writes, one per line:
 * "u <sample> <code>" and "a <sample> <code>" for every 16-bit sample,
 * then "U <code> <sample>" and "A <code> <sample>" for every code. */
#include <stdio.h>
#include <stdint.h>
#include <spandsp.h>

int main(void)
{
    for (int s = -32768; s <= 32767; s++)
        printf("u %d %d\na %d %d\n", s, linear_to_ulaw(s), s, linear_to_alaw(s));
    for (int c = 0; c < 256; c++)
        printf("U %d %d\nA %d %d\n", c, ulaw_to_linear(c), c, alaw_to_linear(c));
    return 0;
}
