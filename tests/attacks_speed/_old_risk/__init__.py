"""The risk engine at aca4519 (before refuse-cheap), verbatim but for one import: the
differential reference for test_attack_refusal_differential."""
