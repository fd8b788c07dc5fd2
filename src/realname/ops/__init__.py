"""The operations console's core: operators, review cases, support lookup.

* ``operators`` — sign-in (argon2id), roles, sessions, login limits;
* ``config`` — review.yaml: SLA per reason, face grey band, decision reason codes;
* ``cases`` — intake from verification results, ``open_case``, the SLA queue,
  claim / reassign / decide, each audited;
* ``unmask`` — clear personal data only with a written, audited reason;
* ``outcome`` — how a decision changes what the borrower's status says;
* ``accountfile`` / ``casefile`` / ``lookup`` — the masked views support and
  reviewers read ("why does it still say 未实名认证?");
* ``cli`` — ``realname ops operator-add`` and ``realname ops queue``.

The web pages (:mod:`realname.web.ops`, auth in :mod:`realname.web.ops_auth`) call these.
"""
