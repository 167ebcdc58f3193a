package v17

// The V.17 signal spaces (figures 2 to 5 of the Recommendation): each point
// is indexed by its binary label.

// points14400[label]: V.17 figure for 14400 bit/s; label bits are Q6..Q3 Y2 Y1 Y0, Y0 least significant.
var points14400 = [128]complex64{
	complex(-8, -3), complex(9, 2), complex(2, -9), complex(-3, 8), complex(8, 3), complex(-9, -2), complex(-2, 9), complex(3, -8),
	complex(-8, 1), complex(9, -2), complex(-2, -9), complex(1, 8), complex(8, -1), complex(-9, 2), complex(2, 9), complex(-1, -8),
	complex(-4, -3), complex(5, 2), complex(2, -5), complex(-3, 4), complex(4, 3), complex(-5, -2), complex(-2, 5), complex(3, -4),
	complex(-4, 1), complex(5, -2), complex(-2, -5), complex(1, 4), complex(4, -1), complex(-5, 2), complex(2, 5), complex(-1, -4),
	complex(4, -3), complex(-3, 2), complex(2, 3), complex(-3, -4), complex(-4, 3), complex(3, -2), complex(-2, -3), complex(3, 4),
	complex(4, 1), complex(-3, -2), complex(-2, 3), complex(1, -4), complex(-4, -1), complex(3, 2), complex(2, -3), complex(-1, 4),
	complex(0, -3), complex(1, 2), complex(2, -1), complex(-3, 0), complex(0, 3), complex(-1, -2), complex(-2, 1), complex(3, 0),
	complex(0, 1), complex(1, -2), complex(-2, -1), complex(1, 0), complex(0, -1), complex(-1, 2), complex(2, 1), complex(-1, 0),
	complex(8, -3), complex(-7, 2), complex(2, 7), complex(-3, -8), complex(-8, 3), complex(7, -2), complex(-2, -7), complex(3, 8),
	complex(8, 1), complex(-7, -2), complex(-2, 7), complex(1, -8), complex(-8, -1), complex(7, 2), complex(2, -7), complex(-1, 8),
	complex(-4, -7), complex(5, 6), complex(6, -5), complex(-7, 4), complex(4, 7), complex(-5, -6), complex(-6, 5), complex(7, -4),
	complex(-4, 5), complex(5, -6), complex(-6, -5), complex(5, 4), complex(4, -5), complex(-5, 6), complex(6, 5), complex(-5, -4),
	complex(4, -7), complex(-3, 6), complex(6, 3), complex(-7, -4), complex(-4, 7), complex(3, -6), complex(-6, -3), complex(7, 4),
	complex(4, 5), complex(-3, -6), complex(-6, 3), complex(5, -4), complex(-4, -5), complex(3, 6), complex(6, -3), complex(-5, 4),
	complex(0, -7), complex(1, 6), complex(6, -1), complex(-7, 0), complex(0, 7), complex(-1, -6), complex(-6, 1), complex(7, 0),
	complex(0, 5), complex(1, -6), complex(-6, -1), complex(5, 0), complex(0, -5), complex(-1, 6), complex(6, 1), complex(-5, 0),
}

// points12000[label]: V.17 figure for 12000 bit/s; label bits are Q5..Q3 Y2 Y1 Y0, Y0 least significant.
var points12000 = [64]complex64{
	complex(7, 1), complex(-5, -1), complex(-1, 5), complex(1, -7), complex(-7, -1), complex(5, 1), complex(1, -5), complex(-1, 7),
	complex(3, -3), complex(-1, 3), complex(3, 1), complex(-3, -3), complex(-3, 3), complex(1, -3), complex(-3, -1), complex(3, 3),
	complex(7, -7), complex(-5, 7), complex(7, 5), complex(-7, -7), complex(-7, 7), complex(5, -7), complex(-7, -5), complex(7, 7),
	complex(-1, -7), complex(3, 7), complex(7, -3), complex(-7, 1), complex(1, 7), complex(-3, -7), complex(-7, 3), complex(7, -1),
	complex(3, 5), complex(-1, -5), complex(-5, 1), complex(5, -3), complex(-3, -5), complex(1, 5), complex(5, -1), complex(-5, 3),
	complex(-1, 1), complex(3, -1), complex(-1, -3), complex(1, 1), complex(1, -1), complex(-3, 1), complex(1, 3), complex(-1, -1),
	complex(-5, 5), complex(7, -5), complex(-5, -7), complex(5, 5), complex(5, -5), complex(-7, 5), complex(5, 7), complex(-5, -5),
	complex(-5, -3), complex(7, 3), complex(3, -7), complex(-3, 5), complex(5, 3), complex(-7, -3), complex(-3, 7), complex(3, -5),
}

// points9600[label]: V.17 figure for 9600 bit/s; label bits are Q4..Q3 Y2 Y1 Y0, Y0 least significant.
var points9600 = [32]complex64{
	complex(-8, 2), complex(-6, -4), complex(-4, 6), complex(2, 8), complex(8, -2), complex(6, 4), complex(4, -6), complex(-2, -8),
	complex(0, 2), complex(-6, 4), complex(4, 6), complex(2, 0), complex(0, -2), complex(6, -4), complex(-4, -6), complex(-2, 0),
	complex(0, -6), complex(2, -4), complex(-4, -2), complex(-6, 0), complex(0, 6), complex(-2, 4), complex(4, 2), complex(6, 0),
	complex(8, 2), complex(2, 4), complex(4, -2), complex(2, -8), complex(-8, -2), complex(-2, -4), complex(-4, 2), complex(-2, 8),
}

// points7200[label]: V.17 figure for 7200 bit/s; label bits are Q3..Q3 Y2 Y1 Y0, Y0 least significant.
var points7200 = [16]complex64{
	complex(6, -6), complex(-2, 6), complex(6, 2), complex(-6, -6), complex(-6, 6), complex(2, -6), complex(-6, -2), complex(6, 6),
	complex(-2, 2), complex(6, -2), complex(-2, -6), complex(2, 2), complex(2, -2), complex(-6, 2), complex(2, 6), complex(-2, -2),
}
