"""The returns domain: queries, policy, state machine, resolutions, analytics."""
