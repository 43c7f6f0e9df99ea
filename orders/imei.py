"""What an IMEI is: 15 ASCII digits whose last is the Luhn check digit of the first 14.

The one definition the import, the IMEI search, the fake provider and the tests share.
"""

import re

IMEI_LENGTH = 15
# Excel writes long numbers as 3.52E+14 (or 3,52E+14 where the comma is the decimal mark).
SCIENTIFIC = re.compile(r"[0-9]+([.,][0-9]*)?[eE]\+?[0-9]+")
# Staff write IMEIs as `35 337008 008945 9` or `35-337008-008945-9`.
SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]+")
ASCII_DIGITS = re.compile(r"[0-9]*")


def check_digit(body):
    """The Luhn check digit (a one-character string) for the 14 digits of `body`."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (1 if i % 2 else 2)
        total += d - 9 if d > 9 else d
    return str(-total % 10)


def luhn_valid(digits):
    return check_digit(digits[:-1]) == digits[-1]


def with_check_digit(body):
    return body + check_digit(body)


def check(raw):
    """(imei, None) for a good value, (None, what is wrong) for a bad one."""
    if SCIENTIFIC.fullmatch(raw):
        return None, (
            "was turned into scientific notation by Excel; the digits are lost. "
            "Format the column as Text and export again."
        )
    value = SEPARATORS.sub("", raw)
    if not ASCII_DIGITS.fullmatch(value):
        return None, "contains characters other than digits"
    if len(value) != IMEI_LENGTH:
        digits = "digit" if len(value) == 1 else "digits"
        return None, f"has {len(value)} {digits}; an IMEI has {IMEI_LENGTH}"
    if not luhn_valid(value):
        return None, "fails the IMEI check digit (Luhn)"
    return value, None
