"""China customs' older numeric country and currency codes, still sent by legacy clients.

Before the 2018 single window message (GACC Announcement 2018 No. 67) moved to ISO alpha codes,
China's customs parameter tables numbered countries and currencies with three digits of their
own (国别(地区)代码表, 货币代码表): 142 is China, 141 Vietnam, 502 the United States; currency
142 is the renminbi, 502 the US dollar. These are *not* ISO 3166 / ISO 4217 numeric codes (ISO
gives China 156 and the US dollar 840), so a three-digit code from a China document is read
through these tables only, and reading one is a warning: the document uses a retired table.

Only the corridor's countries, their main trading partners and the currencies customs
declarations use are listed; an unlisted number is an error naming this table, never a guess.
"""

from __future__ import annotations

from typing import Final

from broker.codes.table import CodeTable, read_only

SOURCE: Final = (
    "GACC customs parameter tables 国别(地区)代码表 and 货币代码表 (pre-2018 numeric codes), as "
    "filled in by public single-window client code; ISO codes from ISO 3166-1 / ISO 4217"
)
VERSION: Final = "numeric tables in use until GACC 2018 No. 67; [check] against the GACC lists"

CN_LEGACY_COUNTRIES: Final = CodeTable[str](
    name="China customs numeric country code (国别(地区)代码, pre-2018)",
    source=SOURCE,
    version=VERSION,
    verified=False,
    to_canonical=read_only(
        {
            "105": "BN",  # 文莱 Brunei
            "106": "MM",  # 缅甸 Myanmar
            "107": "KH",  # 柬埔寨 Cambodia
            "110": "HK",  # 中国香港 Hong Kong
            "111": "IN",  # 印度 India
            "112": "ID",  # 印度尼西亚 Indonesia
            "116": "JP",  # 日本 Japan
            "119": "LA",  # 老挝 Laos
            "121": "MO",  # 中国澳门 Macao
            "122": "MY",  # 马来西亚 Malaysia
            "129": "PH",  # 菲律宾 Philippines
            "132": "SG",  # 新加坡 Singapore
            "133": "KR",  # 韩国 Korea
            "136": "TH",  # 泰国 Thailand
            "141": "VN",  # 越南 Vietnam
            "142": "CN",  # 中国 China
            "145": "KZ",  # 哈萨克斯坦 Kazakhstan
            "303": "GB",  # 英国 United Kingdom
            "304": "DE",  # 德国 Germany
            "305": "FR",  # 法国 France
            "344": "RU",  # 俄罗斯联邦 Russia
            "501": "CA",  # 加拿大 Canada
            "502": "US",  # 美国 United States
            "601": "AU",  # 澳大利亚 Australia
        }
    ),
)

CN_LEGACY_CURRENCIES: Final = CodeTable[str](
    name="China customs numeric currency code (货币代码, pre-2018)",
    source=SOURCE,
    version=VERSION,
    verified=False,
    to_canonical=read_only(
        {
            "110": "HKD",  # 港币
            "116": "JPY",  # 日本元
            "121": "MOP",  # 澳门元
            "129": "PHP",  # 菲律宾比索
            "132": "SGD",  # 新加坡元
            "133": "KRW",  # 韩国元
            "136": "THB",  # 泰国铢
            "142": "CNY",  # 人民币
            "300": "EUR",  # 欧元
            "303": "GBP",  # 英镑
            "344": "RUB",  # 俄罗斯卢布
            "501": "CAD",  # 加拿大元
            "502": "USD",  # 美元
            "601": "AUD",  # 澳大利亚元
        }
    ),
)
