"""Currencies and their minor units: every amount is exact in its currency's minor unit.

`CurrencyCode` holds the ISO 4217 currencies in use (funds codes included, precious metals and
testing codes left out), as Shopify's enum of the same name does; `XXX` stands for a currency we do
not know, as it does in Shopify's Admin API. `MINOR_UNITS` lists the currencies whose minor unit is
not the hundredth (ISO 4217's exponent): yen and won have none, the dinars of Bahrain, Iraq,
Jordan, Kuwait, Libya and Tunisia and the Omani rial have thousandths. Every amount is rounded
half up (0.005 -> 0.01), as Shopify rounds, to its currency's exponent, and amounts in different
currencies are never added together.

A table rather than a library: the library that carries minor units for every currency (Babel)
takes them from CLDR, a locale database whose digits follow display conventions and differ from
ISO 4217's for some currencies; Shopify's amounts are exact in ISO 4217's.
"""

from __future__ import annotations

import functools
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum


class CurrencyCode(StrEnum):
    AED = "AED"
    AFN = "AFN"
    ALL = "ALL"
    AMD = "AMD"
    ANG = "ANG"
    AOA = "AOA"
    ARS = "ARS"
    AUD = "AUD"
    AWG = "AWG"
    AZN = "AZN"
    BAM = "BAM"
    BBD = "BBD"
    BDT = "BDT"
    BGN = "BGN"
    BHD = "BHD"
    BIF = "BIF"
    BMD = "BMD"
    BND = "BND"
    BOB = "BOB"
    BOV = "BOV"
    BRL = "BRL"
    BSD = "BSD"
    BTN = "BTN"
    BWP = "BWP"
    BYN = "BYN"
    BZD = "BZD"
    CAD = "CAD"
    CDF = "CDF"
    CHE = "CHE"
    CHF = "CHF"
    CHW = "CHW"
    CLF = "CLF"
    CLP = "CLP"
    CNY = "CNY"
    COP = "COP"
    COU = "COU"
    CRC = "CRC"
    CUC = "CUC"
    CUP = "CUP"
    CVE = "CVE"
    CZK = "CZK"
    DJF = "DJF"
    DKK = "DKK"
    DOP = "DOP"
    DZD = "DZD"
    EGP = "EGP"
    ERN = "ERN"
    ETB = "ETB"
    EUR = "EUR"
    FJD = "FJD"
    FKP = "FKP"
    GBP = "GBP"
    GEL = "GEL"
    GHS = "GHS"
    GIP = "GIP"
    GMD = "GMD"
    GNF = "GNF"
    GTQ = "GTQ"
    GYD = "GYD"
    HKD = "HKD"
    HNL = "HNL"
    HTG = "HTG"
    HUF = "HUF"
    IDR = "IDR"
    ILS = "ILS"
    INR = "INR"
    IQD = "IQD"
    IRR = "IRR"
    ISK = "ISK"
    JMD = "JMD"
    JOD = "JOD"
    JPY = "JPY"
    KES = "KES"
    KGS = "KGS"
    KHR = "KHR"
    KMF = "KMF"
    KPW = "KPW"
    KRW = "KRW"
    KWD = "KWD"
    KYD = "KYD"
    KZT = "KZT"
    LAK = "LAK"
    LBP = "LBP"
    LKR = "LKR"
    LRD = "LRD"
    LSL = "LSL"
    LYD = "LYD"
    MAD = "MAD"
    MDL = "MDL"
    MGA = "MGA"
    MKD = "MKD"
    MMK = "MMK"
    MNT = "MNT"
    MOP = "MOP"
    MRU = "MRU"
    MUR = "MUR"
    MVR = "MVR"
    MWK = "MWK"
    MXN = "MXN"
    MXV = "MXV"
    MYR = "MYR"
    MZN = "MZN"
    NAD = "NAD"
    NGN = "NGN"
    NIO = "NIO"
    NOK = "NOK"
    NPR = "NPR"
    NZD = "NZD"
    OMR = "OMR"
    PAB = "PAB"
    PEN = "PEN"
    PGK = "PGK"
    PHP = "PHP"
    PKR = "PKR"
    PLN = "PLN"
    PYG = "PYG"
    QAR = "QAR"
    RON = "RON"
    RSD = "RSD"
    RUB = "RUB"
    RWF = "RWF"
    SAR = "SAR"
    SBD = "SBD"
    SCR = "SCR"
    SDG = "SDG"
    SEK = "SEK"
    SGD = "SGD"
    SHP = "SHP"
    SLE = "SLE"
    SLL = "SLL"
    SOS = "SOS"
    SRD = "SRD"
    SSP = "SSP"
    STN = "STN"
    SVC = "SVC"
    SYP = "SYP"
    SZL = "SZL"
    THB = "THB"
    TJS = "TJS"
    TMT = "TMT"
    TND = "TND"
    TOP = "TOP"
    TRY = "TRY"
    TTD = "TTD"
    TWD = "TWD"
    TZS = "TZS"
    UAH = "UAH"
    UGX = "UGX"
    USD = "USD"
    USN = "USN"
    UYI = "UYI"
    UYU = "UYU"
    UYW = "UYW"
    UZS = "UZS"
    VED = "VED"
    VES = "VES"
    VND = "VND"
    VUV = "VUV"
    WST = "WST"
    XAF = "XAF"
    XCD = "XCD"
    XCG = "XCG"
    XOF = "XOF"
    XPF = "XPF"
    XXX = "XXX"
    YER = "YER"
    ZAR = "ZAR"
    ZMW = "ZMW"
    ZWG = "ZWG"
    ZWL = "ZWL"


MINOR_UNITS: dict[CurrencyCode, int] = {
    **dict.fromkeys(
        (
            CurrencyCode.BIF,
            CurrencyCode.CLP,
            CurrencyCode.DJF,
            CurrencyCode.GNF,
            CurrencyCode.ISK,
            CurrencyCode.JPY,
            CurrencyCode.KMF,
            CurrencyCode.KRW,
            CurrencyCode.PYG,
            CurrencyCode.RWF,
            CurrencyCode.UGX,
            CurrencyCode.UYI,
            CurrencyCode.VND,
            CurrencyCode.VUV,
            CurrencyCode.XAF,
            CurrencyCode.XOF,
            CurrencyCode.XPF,
        ),
        0,
    ),
    **dict.fromkeys(
        (
            CurrencyCode.BHD,
            CurrencyCode.IQD,
            CurrencyCode.JOD,
            CurrencyCode.KWD,
            CurrencyCode.LYD,
            CurrencyCode.OMR,
            CurrencyCode.TND,
        ),
        3,
    ),
    CurrencyCode.CLF: 4,
    CurrencyCode.UYW: 4,
}
DEFAULT_MINOR_UNIT = 2  # every other currency, and XXX
# What a stored order or return without a currency is in (documents older than the field).
DEFAULT_CURRENCY = "USD"


@functools.lru_cache(maxsize=512)
def currency_code(value: str | None) -> CurrencyCode:
    """A stored or received currency (`"usd"`, `" JPY "`) as a `CurrencyCode`; `XXX` when unknown.
    Cached: a page of orders asks for the same few currencies thousands of times."""
    try:
        return CurrencyCode((value or "").strip().upper())
    except ValueError:
        return CurrencyCode.XXX


def minor_unit(currency: str | None) -> int:
    """Decimal places of the currency's minor unit: JPY 0, USD 2, KWD 3."""
    return MINOR_UNITS.get(currency_code(currency), DEFAULT_MINOR_UNIT)


@functools.lru_cache(maxsize=512)
def _minor_unit_step(currency: str | None) -> Decimal:
    return Decimal(1).scaleb(-minor_unit(currency))  # 1, 0.01, 0.001


def round_to_minor_unit(amount: Decimal, currency: str | None) -> Decimal:
    """`amount` rounded half up to the currency's minor unit, with exactly that many places.
    An amount that cannot be (not finite, or beyond Decimal's precision; never one Shopify or
    our inputs produce) is returned as it is rather than failing a whole response."""
    if not amount.is_finite():
        return amount
    try:
        return amount.quantize(_minor_unit_step(currency), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return amount
