"""The operations console's core: operators, review cases, support lookup.

``operators`` signs people in (argon2, roles, sessions, login limits); ``cases`` is
the review queue (intake from verification results, SLA, claims, decisions, the
audited unmask); ``outcome`` is how a decision changes what a borrower's status
says; ``lookup`` answers "why does it still say 未实名认证?" for support. The web
pages (:mod:`realname.web.ops`) and the CLI (:mod:`realname.ops.cli`) call these.
"""
