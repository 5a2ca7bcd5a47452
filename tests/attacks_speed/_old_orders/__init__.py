"""The order owner at aca4519 (before protect-lean), verbatim but for one import: the
differential reference for test_attack_protect_lean."""
