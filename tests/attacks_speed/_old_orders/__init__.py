"""The order owner at aca4519 (before protect-lean), verbatim but for one import and the
same fix as test_attack_stop_dropped_mid_replace: the reference for the protect-lean
differential (so it compares only what protect-lean changed)."""
