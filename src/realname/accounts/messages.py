"""The words of the SMS messages that carry one-time codes, in zh-CN and en.

Every message names the code, how long it is valid and the rule never to share it
(MIIT practice for verification-code SMS: 签名 in 【】, purpose, validity, warning).
Linking an account and changing the bound phone say so in the message: a user read
a code aloud to a caller is the usual way such codes are stolen, and a message that
names the action gives them a chance to notice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

Language = Literal["zh-CN", "en"]

SIGNATURE = "realname"

_DEFAULT = "default"
SMS_TEMPLATES: Mapping[str, Mapping[Language, str]] = {
    _DEFAULT: {
        "zh-CN": "【{signature}】验证码 {code}，{minutes}分钟内有效，请勿告诉他人。",
        "en": "[{signature}] Your verification code is {code}, valid for {minutes} minutes. "
        "Do not share it with anyone.",
    },
    "link_account": {
        "zh-CN": "【{signature}】验证码 {code}，用于关联您的另一个账户，{minutes}分钟内有效，"
        "请勿告诉他人。如非本人操作，请忽略。",
        "en": "[{signature}] Code {code} links another account to yours; valid for {minutes} "
        "minutes. Do not share it. Ignore this message if you did not ask for it.",
    },
    "phone_change": {
        "zh-CN": "【{signature}】验证码 {code}，用于更换绑定手机号，{minutes}分钟内有效，"
        "请勿告诉他人。如非本人操作，请忽略。",
        "en": "[{signature}] Code {code} changes the phone bound to your account; valid for "
        "{minutes} minutes. Do not share it. Ignore this message if you did not ask for it.",
    },
}


def sms_text(purpose: str, code: str, minutes: int, language: Language = "zh-CN") -> str:
    """The message for a code sent for ``purpose`` (sign-up and log-in read the same).

    >>> sms_text("login", "123456", 10)
    '【realname】验证码 123456，10分钟内有效，请勿告诉他人。'
    """
    template = SMS_TEMPLATES.get(purpose, SMS_TEMPLATES[_DEFAULT])[language]
    return template.format(signature=SIGNATURE, code=code, minutes=minutes)


__all__ = ["SIGNATURE", "SMS_TEMPLATES", "Language", "sms_text"]
