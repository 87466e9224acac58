"""Hand-written country table for the embedded QA set: common name, capital, continent, fame tier.

Capitals are ``None`` where the capital is split or disputed (South Africa, Bolivia, Sri Lanka, ...), and
continents are ``None`` for transcontinental countries, so that every question has one clear answer.
Tier 1 = capital known to most adults, 2 = well known, 3 = obscure. ISO codes come from pycountry.
"""

from __future__ import annotations

from typing import NamedTuple


class Country(NamedTuple):
    """One row of the hand table."""

    alpha_2: str
    name: str
    capital: str | None
    capital_aliases: tuple[str, ...]
    continent: str | None
    tier: int


_AF, _AS, _EU, _NA, _SA, _OC = "Africa", "Asia", "Europe", "North America", "South America", "Oceania"

COUNTRIES: tuple[Country, ...] = (
    # Africa
    Country("DZ", "Algeria", "Algiers", (), _AF, 2),
    Country("AO", "Angola", "Luanda", (), _AF, 2),
    Country("BJ", "Benin", None, (), _AF, 3),  # Porto-Novo (official) vs Cotonou (seat)
    Country("BW", "Botswana", "Gaborone", (), _AF, 3),
    Country("BF", "Burkina Faso", "Ouagadougou", (), _AF, 3),
    Country("BI", "Burundi", None, (), _AF, 3),  # moved from Bujumbura to Gitega in 2019
    Country("CV", "Cape Verde", "Praia", (), _AF, 3),
    Country("CM", "Cameroon", "Yaoundé", (), _AF, 3),
    Country("CF", "Central African Republic", "Bangui", (), _AF, 3),
    Country("TD", "Chad", "N'Djamena", ("Ndjamena",), _AF, 3),
    Country("KM", "Comoros", "Moroni", (), _AF, 3),
    Country("CG", "Republic of the Congo", "Brazzaville", (), _AF, 3),
    Country("CD", "Democratic Republic of the Congo", "Kinshasa", (), _AF, 2),
    Country("CI", "Ivory Coast", None, (), _AF, 3),  # Yamoussoukro (official) vs Abidjan
    Country("DJ", "Djibouti", "Djibouti", ("Djibouti City",), _AF, 3),
    Country("EG", "Egypt", "Cairo", (), _AF, 1),
    Country("GQ", "Equatorial Guinea", "Malabo", (), _AF, 3),
    Country("ER", "Eritrea", "Asmara", (), _AF, 3),
    Country("SZ", "Eswatini", None, (), _AF, 3),  # Mbabane (administrative) vs Lobamba
    Country("ET", "Ethiopia", "Addis Ababa", (), _AF, 2),
    Country("GA", "Gabon", "Libreville", (), _AF, 3),
    Country("GM", "Gambia", "Banjul", (), _AF, 3),
    Country("GH", "Ghana", "Accra", (), _AF, 2),
    Country("GN", "Guinea", "Conakry", (), _AF, 3),
    Country("GW", "Guinea-Bissau", "Bissau", (), _AF, 3),
    Country("KE", "Kenya", "Nairobi", (), _AF, 1),
    Country("LS", "Lesotho", "Maseru", (), _AF, 3),
    Country("LR", "Liberia", "Monrovia", (), _AF, 3),
    Country("LY", "Libya", "Tripoli", (), _AF, 2),
    Country("MG", "Madagascar", "Antananarivo", (), _AF, 3),
    Country("MW", "Malawi", "Lilongwe", (), _AF, 3),
    Country("ML", "Mali", "Bamako", (), _AF, 3),
    Country("MR", "Mauritania", "Nouakchott", (), _AF, 3),
    Country("MU", "Mauritius", "Port Louis", (), _AF, 3),
    Country("MA", "Morocco", "Rabat", (), _AF, 2),
    Country("MZ", "Mozambique", "Maputo", (), _AF, 3),
    Country("NA", "Namibia", "Windhoek", (), _AF, 3),
    Country("NE", "Niger", "Niamey", (), _AF, 3),
    Country("NG", "Nigeria", "Abuja", (), _AF, 2),
    Country("RW", "Rwanda", "Kigali", (), _AF, 3),
    Country("ST", "São Tomé and Príncipe", "São Tomé", (), _AF, 3),
    Country("SN", "Senegal", "Dakar", (), _AF, 2),
    Country("SC", "Seychelles", "Victoria", (), _AF, 3),
    Country("SL", "Sierra Leone", "Freetown", (), _AF, 3),
    Country("SO", "Somalia", "Mogadishu", (), _AF, 2),
    Country("ZA", "South Africa", None, (), _AF, 1),  # Pretoria, Cape Town and Bloemfontein
    Country("SS", "South Sudan", "Juba", (), _AF, 3),
    Country("SD", "Sudan", "Khartoum", (), _AF, 2),
    Country("TZ", "Tanzania", "Dodoma", (), _AF, 3),
    Country("TG", "Togo", "Lomé", (), _AF, 3),
    Country("TN", "Tunisia", "Tunis", (), _AF, 2),
    Country("UG", "Uganda", "Kampala", (), _AF, 2),
    Country("ZM", "Zambia", "Lusaka", (), _AF, 3),
    Country("ZW", "Zimbabwe", "Harare", (), _AF, 2),
    # Europe
    Country("AL", "Albania", "Tirana", ("Tirane",), _EU, 2),
    Country("AD", "Andorra", "Andorra la Vella", (), _EU, 3),
    Country("AT", "Austria", "Vienna", ("Wien",), _EU, 1),
    Country("BY", "Belarus", "Minsk", (), _EU, 2),
    Country("BE", "Belgium", "Brussels", ("Bruxelles",), _EU, 1),
    Country("BA", "Bosnia and Herzegovina", "Sarajevo", (), _EU, 2),
    Country("BG", "Bulgaria", "Sofia", (), _EU, 2),
    Country("HR", "Croatia", "Zagreb", (), _EU, 2),
    Country("CY", "Cyprus", "Nicosia", (), None, 3),
    Country("CZ", "Czech Republic", "Prague", ("Praha",), _EU, 1),
    Country("DK", "Denmark", "Copenhagen", (), _EU, 1),
    Country("EE", "Estonia", "Tallinn", (), _EU, 2),
    Country("FI", "Finland", "Helsinki", (), _EU, 1),
    Country("FR", "France", "Paris", (), _EU, 1),
    Country("DE", "Germany", "Berlin", (), _EU, 1),
    Country("GR", "Greece", "Athens", (), _EU, 1),
    Country("HU", "Hungary", "Budapest", (), _EU, 1),
    Country("IS", "Iceland", "Reykjavík", (), _EU, 1),
    Country("IE", "Ireland", "Dublin", (), _EU, 1),
    Country("IT", "Italy", "Rome", ("Roma",), _EU, 1),
    Country("LV", "Latvia", "Riga", (), _EU, 2),
    Country("LI", "Liechtenstein", "Vaduz", (), _EU, 3),
    Country("LT", "Lithuania", "Vilnius", (), _EU, 2),
    Country("LU", "Luxembourg", "Luxembourg", ("Luxembourg City",), _EU, 2),
    Country("MT", "Malta", "Valletta", (), _EU, 2),
    Country("MD", "Moldova", "Chișinău", ("Chisinau", "Kishinev"), _EU, 3),
    Country("MC", "Monaco", "Monaco", (), _EU, 2),
    Country("ME", "Montenegro", "Podgorica", (), _EU, 3),
    Country("NL", "Netherlands", "Amsterdam", (), _EU, 1),
    Country("MK", "North Macedonia", "Skopje", (), _EU, 3),
    Country("NO", "Norway", "Oslo", (), _EU, 1),
    Country("PL", "Poland", "Warsaw", ("Warszawa",), _EU, 1),
    Country("PT", "Portugal", "Lisbon", ("Lisboa",), _EU, 1),
    Country("RO", "Romania", "Bucharest", (), _EU, 2),
    Country("RU", "Russia", "Moscow", ("Moskva",), None, 1),
    Country("SM", "San Marino", "San Marino", ("City of San Marino",), _EU, 2),
    Country("RS", "Serbia", "Belgrade", (), _EU, 2),
    Country("SK", "Slovakia", "Bratislava", (), _EU, 2),
    Country("SI", "Slovenia", "Ljubljana", (), _EU, 2),
    Country("ES", "Spain", "Madrid", (), _EU, 1),
    Country("SE", "Sweden", "Stockholm", (), _EU, 1),
    Country("CH", "Switzerland", "Bern", ("Berne",), _EU, 2),
    Country("UA", "Ukraine", "Kyiv", ("Kiev",), _EU, 1),
    Country("GB", "United Kingdom", "London", (), _EU, 1),
    Country("VA", "Vatican City", "Vatican City", ("Vatican",), _EU, 2),
    # Asia
    Country("AF", "Afghanistan", "Kabul", (), _AS, 1),
    Country("AM", "Armenia", "Yerevan", (), None, 2),
    Country("AZ", "Azerbaijan", "Baku", (), None, 2),
    Country("BH", "Bahrain", "Manama", (), _AS, 3),
    Country("BD", "Bangladesh", "Dhaka", ("Dacca",), _AS, 2),
    Country("BT", "Bhutan", "Thimphu", (), _AS, 3),
    Country("BN", "Brunei", "Bandar Seri Begawan", (), _AS, 3),
    Country("KH", "Cambodia", "Phnom Penh", (), _AS, 2),
    Country("CN", "China", "Beijing", ("Peking",), _AS, 1),
    Country("GE", "Georgia", "Tbilisi", (), None, 2),
    Country("IN", "India", "New Delhi", (), _AS, 1),
    Country("ID", "Indonesia", "Jakarta", (), _AS, 1),
    Country("IR", "Iran", "Tehran", ("Teheran",), _AS, 1),
    Country("IQ", "Iraq", "Baghdad", (), _AS, 1),
    Country("IL", "Israel", None, (), _AS, 2),  # capital disputed
    Country("JP", "Japan", "Tokyo", (), _AS, 1),
    Country("JO", "Jordan", "Amman", (), _AS, 2),
    Country("KZ", "Kazakhstan", "Astana", ("Nur-Sultan",), None, 3),
    Country("KW", "Kuwait", "Kuwait City", (), _AS, 2),
    Country("KG", "Kyrgyzstan", "Bishkek", (), _AS, 3),
    Country("LA", "Laos", "Vientiane", (), _AS, 3),
    Country("LB", "Lebanon", "Beirut", (), _AS, 1),
    Country("MY", "Malaysia", "Kuala Lumpur", (), _AS, 2),
    Country("MV", "Maldives", "Malé", (), _AS, 3),
    Country("MN", "Mongolia", "Ulaanbaatar", ("Ulan Bator",), _AS, 2),
    Country("MM", "Myanmar", "Naypyidaw", ("Nay Pyi Taw", "Naypyitaw"), _AS, 3),
    Country("NP", "Nepal", "Kathmandu", (), _AS, 2),
    Country("KP", "North Korea", "Pyongyang", (), _AS, 2),
    Country("OM", "Oman", "Muscat", (), _AS, 2),
    Country("PK", "Pakistan", "Islamabad", (), _AS, 2),
    Country("PH", "Philippines", "Manila", (), _AS, 1),
    Country("QA", "Qatar", "Doha", (), _AS, 2),
    Country("SA", "Saudi Arabia", "Riyadh", (), _AS, 2),
    Country("SG", "Singapore", "Singapore", (), _AS, 1),
    Country("KR", "South Korea", "Seoul", (), _AS, 1),
    Country("LK", "Sri Lanka", None, (), _AS, 3),  # Sri Jayawardenepura Kotte vs Colombo
    Country("SY", "Syria", "Damascus", (), _AS, 1),
    Country("TJ", "Tajikistan", "Dushanbe", (), _AS, 3),
    Country("TH", "Thailand", "Bangkok", (), _AS, 1),
    Country("TL", "East Timor", "Dili", (), _AS, 3),
    Country("TR", "Turkey", "Ankara", (), None, 2),
    Country("TM", "Turkmenistan", "Ashgabat", ("Ashkhabad",), _AS, 3),
    Country("AE", "United Arab Emirates", "Abu Dhabi", (), _AS, 2),
    Country("UZ", "Uzbekistan", "Tashkent", (), _AS, 3),
    Country("VN", "Vietnam", "Hanoi", ("Ha Noi",), _AS, 1),
    Country("YE", "Yemen", "Sanaa", ("Sana'a",), _AS, 3),
    # North America (Central America and the Caribbean included)
    Country("AG", "Antigua and Barbuda", "Saint John's", ("St. John's",), _NA, 3),
    Country("BS", "Bahamas", "Nassau", (), _NA, 2),
    Country("BB", "Barbados", "Bridgetown", (), _NA, 3),
    Country("BZ", "Belize", "Belmopan", (), _NA, 3),
    Country("CA", "Canada", "Ottawa", (), _NA, 2),
    Country("CR", "Costa Rica", "San José", (), _NA, 2),
    Country("CU", "Cuba", "Havana", ("La Habana",), _NA, 1),
    Country("DM", "Dominica", "Roseau", (), _NA, 3),
    Country("DO", "Dominican Republic", "Santo Domingo", (), _NA, 2),
    Country("SV", "El Salvador", "San Salvador", (), _NA, 3),
    Country("GD", "Grenada", "St. George's", ("Saint George's",), _NA, 3),
    Country("GT", "Guatemala", "Guatemala City", (), _NA, 2),
    Country("HT", "Haiti", "Port-au-Prince", (), _NA, 2),
    Country("HN", "Honduras", "Tegucigalpa", (), _NA, 3),
    Country("JM", "Jamaica", "Kingston", (), _NA, 2),
    Country("MX", "Mexico", "Mexico City", (), _NA, 1),
    Country("NI", "Nicaragua", "Managua", (), _NA, 3),
    Country("PA", "Panama", "Panama City", (), _NA, 2),
    Country("KN", "Saint Kitts and Nevis", "Basseterre", (), _NA, 3),
    Country("LC", "Saint Lucia", "Castries", (), _NA, 3),
    Country("VC", "Saint Vincent and the Grenadines", "Kingstown", (), _NA, 3),
    Country("TT", "Trinidad and Tobago", "Port of Spain", (), _NA, 3),
    Country("US", "United States", "Washington, D.C.", ("Washington", "Washington DC"), _NA, 1),
    # South America
    Country("AR", "Argentina", "Buenos Aires", (), _SA, 1),
    Country("BO", "Bolivia", None, (), _SA, 2),  # Sucre (constitutional) vs La Paz (seat)
    Country("BR", "Brazil", "Brasília", (), _SA, 2),
    Country("CL", "Chile", "Santiago", ("Santiago de Chile",), _SA, 1),
    Country("CO", "Colombia", "Bogotá", (), _SA, 2),
    Country("EC", "Ecuador", "Quito", (), _SA, 2),
    Country("GY", "Guyana", "Georgetown", (), _SA, 3),
    Country("PY", "Paraguay", "Asunción", (), _SA, 2),
    Country("PE", "Peru", "Lima", (), _SA, 1),
    Country("SR", "Suriname", "Paramaribo", (), _SA, 3),
    Country("UY", "Uruguay", "Montevideo", (), _SA, 2),
    Country("VE", "Venezuela", "Caracas", (), _SA, 2),
    # Oceania
    Country("AU", "Australia", "Canberra", (), _OC, 2),
    Country("FJ", "Fiji", "Suva", (), _OC, 2),
    Country("KI", "Kiribati", "South Tarawa", ("Tarawa",), _OC, 3),
    Country("MH", "Marshall Islands", "Majuro", (), _OC, 3),
    Country("FM", "Micronesia", "Palikir", (), _OC, 3),
    Country("NR", "Nauru", None, (), _OC, 3),  # no official capital
    Country("NZ", "New Zealand", "Wellington", (), _OC, 2),
    Country("PW", "Palau", "Ngerulmud", (), _OC, 3),
    Country("PG", "Papua New Guinea", "Port Moresby", (), _OC, 3),
    Country("WS", "Samoa", "Apia", (), _OC, 3),
    Country("SB", "Solomon Islands", "Honiara", (), _OC, 3),
    Country("TO", "Tonga", "Nukuʻalofa", ("Nuku'alofa",), _OC, 3),
    Country("TV", "Tuvalu", "Funafuti", (), _OC, 3),
    Country("VU", "Vanuatu", "Port Vila", (), _OC, 3),
)

NAME_ALIASES: dict[str, tuple[str, ...]] = {
    "US": ("USA", "US", "U.S.", "U.S.A.", "United States of America", "America"),
    "GB": ("UK", "U.K.", "Britain", "Great Britain"),
    "CZ": ("Czechia",),
    "CV": ("Cabo Verde",),
    "TL": ("Timor-Leste",),
    "CD": ("DR Congo", "DRC", "Congo-Kinshasa"),
    "CG": ("Congo-Brazzaville",),
    "MM": ("Burma",),
    "NL": ("Holland", "The Netherlands"),
    "VA": ("Vatican", "Holy See"),
    "MK": ("Macedonia",),
    "AE": ("UAE", "Emirates"),
    "TR": ("Türkiye",),
    "GM": ("The Gambia",),
    "BS": ("The Bahamas",),
    "FM": ("Federated States of Micronesia",),
    "SZ": ("Swaziland",),
}
"""Extra accepted names per alpha-2 code (pycountry's names and official names are added too)."""

_NEEDS_THE = frozenset(
    (
        "AE", "BS", "CD", "CF", "CG", "CZ", "DO", "GB", "GM", "KM", "MH", "MV", "NL", "PH", "SB",
        "SC", "US",
    )
)  # fmt: skip

QUESTION_NAMES: dict[str, str] = {
    "GE": "the country Georgia",  # Georgia is also a US state
    **{c.alpha_2: f"the {c.name}" for c in COUNTRIES if c.alpha_2 in _NEEDS_THE},
}
"""How a question names a country where the plain name is ambiguous or needs "the"."""

CONTINENT_ALIASES: dict[str, tuple[str, ...]] = {_OC: ("Australia", "Australasia")}
"""Extra accepted answers for a continent."""
