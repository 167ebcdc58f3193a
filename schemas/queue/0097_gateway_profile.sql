-- A gateway's media profile and health probing (channel.Profile as JSON):
-- T.38 version, datagram and error correction, ECM, top bit rate, V.17,
-- audio first and the re-INVITE wait, the retry ladder, probing.
ALTER TABLE gateways ADD COLUMN profile jsonb NOT NULL DEFAULT '{}';
