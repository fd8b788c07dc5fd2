"""Masking of personal identifiers for display, per JR/T 0171-2020 practice.

JR/T 0171-2020 (个人金融信息保护技术规范) requires that personal financial information
shown to anyone but its subject be masked (屏蔽). realname applies one rule per kind of
identifier, everywhere it shows data that is not the viewer's own:

=============  ===========================  =====================================
identifier     shown                        example
=============  ===========================  =====================================
name           first character, and the     王*明, 王*, 欧**明, 阿***·**提
               last one if 3 or more
ID number      first 6 and last 4           110105********0021
mobile number  first 3 and last 4           139****5678
bank card      first 4 and last 4, grouped  6222 **** **** 0004 (the rule allows
                                            first 6 and last 4; we show less)
=============  ===========================  =====================================

A value that is not shaped like the identifier is masked entirely, so malformed input
never reveals more than the rule allows. Each identifier's module owns its masking
(``name.mask``, ``id_number.mask``, …); this module gathers them under one name so the
policy can be read and audited in one place.
"""

from __future__ import annotations

from realname.identity.bank_card import mask as mask_bank_card
from realname.identity.id_number import mask as mask_id_number
from realname.identity.name import mask as mask_name
from realname.identity.phone import mask as mask_phone

__all__ = ["mask_bank_card", "mask_id_number", "mask_name", "mask_phone"]
