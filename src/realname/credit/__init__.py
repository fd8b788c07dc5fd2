"""Credit assessment (DESIGN §8): a scorecard learnt from real outcomes, limits set by policy.

* :mod:`realname.credit.scorecard` — the scorecard artefact and scoring (pure, no ML imports).
* :mod:`realname.credit.training` — trains it on ``modeldata::credit_data`` (optbinning + sklearn).
* :mod:`realname.credit.limits` — the limit policy: third-party income proxy, DTI cap, level.
* :mod:`realname.credit.decision` — approve / refer / decline with ranked reason codes.

Learnt from outcomes: only the scorecard. Third-party data (社保, 公积金), the verification
level and identity stability enter as documented policy, not as learnt weights.
"""
