"""Measuring presentation-attack detection on the door's own camera (ISO/IEC 30107-3 style).

:mod:`.sessions` records consented bona fide and attack sessions, sealed on the device;
:mod:`.report` replays them through the liveness stage and computes APCER per attack species
(and its worst case) and BPCER, each with a 95 % upper bound.
"""
