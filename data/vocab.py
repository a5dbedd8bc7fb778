"""Vocabularies and tables for the sample-data generator: names, nicknames, places, texts, rates.

Names come from Faker's locale lists (class attributes, read once; no Faker call per row), weighted
Zipf-like so a few names are very common and many are rare. Templates such as "{f}.{l}{d2}" are
rendered by the generator from per-person parts. The matching package ships its own nickname
table: this one only makes data.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache

import numpy as np

# fmt: off
CHANNELS = ("email", "sms", "whatsapp", "facebook", "twitter", "instagram", "chat", "phone")
CHANNEL_P = (0.22, 0.12, 0.12, 0.12, 0.07, 0.07, 0.17, 0.11)
PHONE_CHANNELS = ("sms", "whatsapp", "phone")
IDS_PER_PERSON = (0, 0.56, 0.2, 0.1, 0.055, 0.035, 0.022, 0.013, 0.008, 0.004, 0.003)  # index = identities
HOUSEHOLD_SIZE_P = (0, 0.56, 0.25, 0.1, 0.06, 0.03)  # index = people
# chance that a field is filled, per channel in CHANNELS order (the channel's own id is always there)
FIELD_P = {
    "display_name": (0.70, 0.0, 0.85, 0.97, 0.70, 0.55, 0.10, 0.0),
    "first_name":   (0.25, 0.12, 0.0, 0.60, 0.0, 0.0, 0.70, 0.55),
    "last_name":    (0.25, 0.06, 0.0, 0.60, 0.0, 0.0, 0.25, 0.45),
    "email":        (1.0, 0.04, 0.03, 0.08, 0.02, 0.02, 0.45, 0.20),
    "phone":        (0.12, 0.30, 0.0, 0.04, 0.01, 0.0, 0.12, 0.50),
    "company":      (0.18, 0.0, 0.0, 0.03, 0.0, 0.0, 0.05, 0.10),
    "gender":       (0.03, 0.0, 0.0, 0.35, 0.0, 0.0, 0.0, 0.15),
    "city":         (0.12, 0.02, 0.0, 0.10, 0.05, 0.0, 0.03, 0.25),
    "postcode":     (0.10, 0.02, 0.0, 0.0, 0.0, 0.0, 0.05, 0.30),
    "country":      (0.12, 0.02, 0.0, 0.06, 0.03, 0.0, 0.0, 0.15),
    "birth_date":   (0.04, 0.0, 0.0, 0.03, 0.0, 0.0, 0.0, 0.20),
    "loyalty_tier": (0.30, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.35),
}
FILE_FORMATS = {"email": "csv", "sms": "csv", "whatsapp": "jsonl", "facebook": "jsonl", "twitter": "parquet",
                "instagram": "parquet", "chat": "jsonl", "phone": "csv"}
NATIVE_RENAMES = {"facebook": {"external_id": "psid", "display_name": "full_name"},
                  "whatsapp": {"external_id": "wa_id", "display_name": "profile_name"}}

# templates: {f} {l} ascii first/last, {fi} {li} initials, {n} nickname or first, {y} birth year,
# {d2} {d3} digits, {w} two handle words, {F} {L} names as written
EMAIL_LOCALS = (("{f}.{l}", 22), ("{f}{l}", 12), ("{f}.{l}{d2}", 10), ("{fi}{l}", 10), ("{f}{l}{y}", 7),
                ("{f}_{l}", 5), ("{l}.{f}", 4), ("{n}{l}", 6), ("{f}{d3}", 7), ("{w}{d2}", 8), ("{fi}{li}{y}", 4),
                ("{f}.{li}", 5))
HANDLES = (("{fi}{l}", 14), ("{f}_{l}{d1}", 12), ("{fi}{li}{y}", 8), ("{f}{li}", 8), ("{f}{l}", 12), ("{w}{d2}", 16),
           ("{l}{fi}", 5), ("{n}{l}{d2}", 8), ("{F}{L}", 7), ("the{f}{l}", 5), ("{f}.{l}", 5))
# display names from the (noisy) first {F}, last {L}, nickname {N}; {E} emoji, {O} not a name, {T} Mr/Ms
DISPLAY_STYLES = (("{F} {L}", 52), ("{L}, {F}", 6), ("{F}", 12), ("{N} {L}", 5), ("{F1}. {L}", 4), ("{F} {L1}", 5),
                  ("{F} {L}{E}", 2), ("{O}", 2), ("{L} {F}", 2), ("{T}{L}", 2), ("{FL}", 3), ("{N}{E}", 5))
NOT_REAL_NAME_STYLES = (7, 10, 11)  # facebook and email From headers show real names instead
TYPO_P = (0.95, 0.01, 0.012, 0.01, 0.008, 0.01)  # none, swap, drop, insert, double, replace

# phone styles: {N} national significant number = {A} (area or mobile prefix) + {B}; {B} = {C} (3) + {D}
PHONE_STYLES = {
    "GB": (("+44{N}", 22), ("+44 {A} {B}", 14), ("0{N}", 24), ("0{A} {B}", 16), ("(0{A}) {C}-{D}", 6),
           ("0044 {A} {B}", 5), ("+44 (0){A} {B}", 5), ("44{N}", 8)),
    "US": (("+1{N}", 22), ("({A}) {C}-{D}", 14), ("{A}-{C}-{D}", 24), ("+1 {A} {C} {D}", 16), ("{N}", 6),
           ("1-{A}-{C}-{D}", 5), ("{A}.{C}.{D}", 5), ("1 ({A}) {C}-{D}", 8)),
}
COUNTRY_CODES = {"GB": "44", "US": "1"}
DATE_STYLES = {"GB": "%d/%m/%Y", "US": "%m/%d/%Y"}
# city, postcode areas (|-separated), landline area code without trunk 0, weight, spelling variants
GB_CITIES: tuple[tuple[str, str, str, float, tuple[str, ...]], ...] = (
    ("London", "E|EC|N|NW|SE|SW|W|WC", "20", 9.0, ("Greater London", "LONDON", "london")),
    ("Birmingham", "B", "121", 1.1, ("B'ham",)), ("Manchester", "M", "161", 0.55, ("Gtr Manchester",)),
    ("Leeds", "LS", "113", 0.8, ()), ("Glasgow", "G", "141", 0.6, ()), ("Sheffield", "S", "114", 0.58, ()),
    ("Bradford", "BD", "1274", 0.5, ()), ("Liverpool", "L", "151", 0.5, ()), ("Edinburgh", "EH", "131", 0.5, ()),
    ("Bristol", "BS", "117", 0.46, ()), ("Cardiff", "CF", "29", 0.36, ("Caerdydd",)),
    ("Leicester", "LE", "116", 0.35, ()), ("Coventry", "CV", "24", 0.34, ()), ("Nottingham", "NG", "115", 0.32, ()),
    ("Newcastle upon Tyne", "NE", "191", 0.3, ("Newcastle", "Newcastle-upon-Tyne")),
    ("Belfast", "BT", "28", 0.34, ()), ("Brighton", "BN", "1273", 0.29, ("Brighton and Hove", "Hove")),
    ("Kingston upon Hull", "HU", "1482", 0.26, ("Hull",)), ("Plymouth", "PL", "1752", 0.26, ()),
    ("Stoke-on-Trent", "ST", "1782", 0.25, ("Stoke", "Stoke on Trent")),
    ("Wolverhampton", "WV", "1902", 0.26, ()), ("Derby", "DE", "1332", 0.25, ()),
    ("Southampton", "SO", "23", 0.25, ()), ("Portsmouth", "PO", "23", 0.21, ()), ("Swansea", "SA", "1792", 0.24, ()),
    ("Aberdeen", "AB", "1224", 0.2, ()), ("Norwich", "NR", "1603", 0.14, ()), ("Oxford", "OX", "1865", 0.15, ()),
    ("Cambridge", "CB", "1223", 0.14, ()), ("York", "YO", "1904", 0.2, ()), ("Exeter", "EX", "1392", 0.13, ()),
    ("Bath", "BA", "1225", 0.09, ()), ("Reading", "RG", "118", 0.17, ()), ("Milton Keynes", "MK", "1908", 0.23, ("MK",)),
    ("Dundee", "DD", "1382", 0.15, ()), ("Preston", "PR", "1772", 0.14, ()), ("Sunderland", "SR", "191", 0.17, ()),
    ("Northampton", "NN", "1604", 0.22, ()), ("Luton", "LU", "1582", 0.21, ()), ("Bournemouth", "BH", "1202", 0.18, ()),
    ("Ipswich", "IP", "1473", 0.13, ()), ("Middlesbrough", "TS", "1642", 0.14, ()), ("Blackpool", "FY", "1253", 0.14, ()),
    ("Bolton", "BL", "1204", 0.19, ()), ("Swindon", "SN", "1793", 0.18, ()), ("Peterborough", "PE", "1733", 0.2, ()),
    ("Gloucester", "GL", "1452", 0.13, ()), ("Carlisle", "CA", "1228", 0.07, ()), ("Lincoln", "LN", "1522", 0.1, ()),
    ("Inverness", "IV", "1463", 0.05, ()), ("Wrexham", "LL", "1978", 0.06, ()),
    ("St Albans", "AL", "1727", 0.08, ("St. Albans",)),
)
US_CITIES: tuple[tuple[str, str, str, float, tuple[str, ...]], ...] = (
    ("New York", "100|101|112", "212", 8.3, ("NYC", "New York City", "Brooklyn")),
    ("Los Angeles", "900|901", "213", 3.9, ("LA", "L.A.")), ("Chicago", "606", "312", 2.7, ()),
    ("Houston", "770", "713", 2.3, ()), ("Phoenix", "850", "602", 1.6, ()), ("Philadelphia", "191", "215", 1.6, ("Philly",)),
    ("San Antonio", "782", "210", 1.5, ()), ("San Diego", "921", "619", 1.4, ()), ("Dallas", "752", "214", 1.3, ()),
    ("San Jose", "951", "408", 1.0, ()), ("Austin", "787", "512", 1.0, ()), ("Seattle", "981", "206", 0.75, ()),
    ("Denver", "802", "303", 0.7, ()), ("Boston", "021", "617", 0.69, ()), ("Miami", "331", "305", 0.45, ()),
    ("Atlanta", "303", "404", 0.5, ()), ("Portland", "972", "503", 0.65, ()), ("Detroit", "482", "313", 0.64, ()),
    ("Minneapolis", "554", "612", 0.43, ()), ("Nashville", "372", "615", 0.69, ()),
    ("Saint Louis", "631", "314", 0.3, ("St. Louis", "St Louis")),
)
CITIES = {"GB": GB_CITIES, "US": US_CITIES}
# the first subscriber digits in use after some area codes (others: 2-8), so numbers validate
LANDLINE_FIRST = {"20": "378", "121": "234567", "113": "2345", "114": "2345", "117": "234", "29": "2", "116": "234",
                  "24": "7", "115": "2678", "28": "2346", "23": "8", "118": "234"}
EMAIL_PROVIDERS = {
    "GB": (("gmail.com", 30), ("hotmail.co.uk", 12), ("outlook.com", 9), ("yahoo.co.uk", 7), ("icloud.com", 7),
           ("btinternet.com", 5), ("hotmail.com", 5), ("live.co.uk", 3), ("sky.com", 3), ("googlemail.com", 2),
           ("aol.com", 2), ("virginmedia.com", 2), ("protonmail.com", 1), ("me.com", 1), ("talktalk.net", 1)),
    "US": (("gmail.com", 38), ("yahoo.com", 12), ("hotmail.com", 8), ("outlook.com", 8), ("icloud.com", 9),
           ("aol.com", 4), ("comcast.net", 3), ("msn.com", 2), ("att.net", 2), ("live.com", 2), ("proton.me", 1)),
}
DOMAIN_TYPOS = {"gmail.com": "gmial.com", "hotmail.co.uk": "hotmail.co", "yahoo.co.uk": "yahoo.co",
                "outlook.com": "outlok.com", "icloud.com": "iclould.com", "yahoo.com": "yaho.com"}
COUNTRY_VARIANTS = {
    "GB": (("United Kingdom", 40), ("UK", 25), ("GB", 14), ("England", 10), ("Great Britain", 5), ("gb", 3), ("U.K.", 3)),
    "US": (("United States", 40), ("USA", 30), ("US", 20), ("U.S.", 5), ("United States of America", 5)),
}
COMPANY_SUFFIXES = {"GB": ("Ltd", "Limited", "plc", "& Sons", "Group", "Logistics Ltd", "Consulting", "Partners LLP",
                           "Holdings", "Solutions Ltd", "Retail", "Engineering Ltd", "Foods", "Motors", "Lettings"),
                    "US": ("Inc", "LLC", "Corp", "Group", "& Co", "Partners", "Holdings", "Logistics", "Solutions",
                           "Industries", "Foods", "Motors", "Realty", "Consulting", "Labs")}
SHARED_LOCALS = ("info", "office", "admin", "contact", "accounts", "hello", "noreply", "enquiries", "reception")
HANDLE_WORDS = ("sky", "runner", "coffee", "pixel", "storm", "wolf", "lemon", "tiger", "blue", "gamer", "moon", "red",
                "fox", "night", "ninja", "rose", "jazz", "surf", "dragon", "sunny", "cookie", "dj", "official", "real",
                "the", "iam", "its", "mr", "miss", "travel", "eats", "fit", "bake", "music", "retro", "north", "wild")
TAG_WORDS = ("shop", "news", "amazon", "2021", "work", "spam", "promo", "bank", "ebay", "x")
ODD_DISPLAY = ("Mum", "Dad", "~", "Busy 📵", "Coffee addict ☕", "Living my best life", "🙂", "Nan", "Away", "Me",
               "Proud mum of 3", "Dog person 🐶", "Not today", "Hey there! I am using WhatsApp.", ".")
EMOJI = (" 🌸", " ✨", " 🙂", " 💙", " ⚽", " 🏴", " 🌍", " 🎶", " ❤️")
TIERS = ("Bronze", "Silver", "Gold", "Platinum")
RARE_SYLLABLES = (("Ash", "Bram", "Cul", "Dun", "Fair", "Gos", "Hal", "Kel", "Lang", "Mor", "Pem", "Quar", "Rad", "Stan",
                   "Thorn", "Wex", "Yel", "Zan", "Brock", "Crag", "Elms", "Frob", "Grimm", "Hux", "Ick", "Jolli"),
                  ("worth", "berton", "ridge", "combe", "ley", "field", "hurst", "wick", "stone", "ington", "ford",
                   "thwaite", "by", "more", "shaw", "dale", "well", "ham", "croft", "bury", "low", "mere"))
# message texts: {first} {last} {full} {email1} {phone} {postcode} {order} {agent_first} are filled per thread
CUSTOMER_TEXTS = (
    "Hi, my order {order} hasn't arrived yet", "Hello, this is {full}. I was charged twice for order {order}.",
    "can you call me back on {phone} please", "My email is {email1}, please send the receipt there",
    "Still waiting for a refund on {order}!!", "thanks", "ok", "I need to change my delivery address to {postcode}",
    "Hi it's {first}, any update?", "How do I reset my password? my login is {email1}",
    "Parcel says delivered but nothing here. {full}, {postcode}", "Is the store open on Sunday?",
    "I want to cancel my subscription", "Why has my bill gone up this month?", "Hi, I'm {first} {last}, order {order}",
    "Please stop texting me", "The item is damaged, photos attached", "ring me on {phone} after 5",
    "It's {first} again. Still no reply to my email from {email1}", "Can I speak to a manager",
    "Great service, thank you!", "where is my parcel", "Account number is {order}, name {full}",
)
AGENT_TEXTS = (
    "Hi {first}, thanks for getting in touch. Could you send me your order number?",
    "Sorry to hear that, {first}. I've raised a refund for {order}; it should show in 3-5 working days.",
    "Thanks, I've updated your details.", "Could you confirm the email address on the account, please?",
    "We tried to call you on {phone} but couldn't reach you.", "I've sent a reset link to {email1}.",
    "Thanks for your patience {first}, the courier has been chased.", "Is there anything else I can help with?",
    "I've passed this to the team, you'll hear back within 48 hours. {agent_first}",
    "Hi {first}, {agent_first} here. Let me check.", "Your subscription has been cancelled. Sorry to see you go!",
    "No problem at all, have a lovely day {first}.",
)
EMAIL_TITLES = ("Order {order}", "Refund request", "Re: Your delivery", "Complaint", "Change of address",
                "Account locked", "Question about my bill", "Re: Re: order {order} missing", "Cancel subscription",
                "Password reset", "Fwd: invoice", "URGENT", "Damaged item", "Re: Your recent enquiry")
# each keeps the whole address, so two different addresses never become the same bad value
BAD_EMAILS = ("{l}@@{d}", "{l} at {d}", "{l}@{d},", "{l}.@{d}", "{l}@{d}@{d}", "{l}@.{d}", "{l}(at){d}")
BAD_PHONES = ("n/a", "call me", "ring after 6pm", "0770 09", "+44 7700 9OO123", "12345", "00000", "tbc", "see email",
              "+44 (0) 7x00 900 123", "phone broken", "???")
BAD_TIMESTAMPS = ("31/02/2021", "not a date", "2021-13-40T25:00:00Z", "yesterday", "0000-00-00 00:00:00",
                  "2019-02-30T10:00:00", "1/1/70", "NaN")
# the people of a region: (Faker locale, share)
LOCALE_MIX = {
    "GB": (("en_GB", 0.50), ("en_US", 0.22), ("pl_PL", 0.07), ("fr_FR", 0.05), ("de_DE", 0.05), ("es_ES", 0.11)),
    "US": (("en_US", 0.70), ("es_ES", 0.14), ("en_GB", 0.08), ("de_DE", 0.03), ("fr_FR", 0.02), ("pl_PL", 0.03)),
}
# canonical first name -> nicknames a person may go by (the generator picks one per person)
NICKNAMES: dict[str, tuple[str, ...]] = {
    "Robert": ("Bob", "Rob", "Bobby", "Robbie"), "William": ("Bill", "Will", "Billy", "Liam"),
    "Elizabeth": ("Liz", "Beth", "Lizzie", "Betty", "Eliza"), "Katherine": ("Kate", "Kathy", "Katie"),
    "Catherine": ("Cathy", "Kate", "Cat"), "Margaret": ("Maggie", "Peggy", "Meg"),
    "Richard": ("Rick", "Dick", "Rich", "Ricky"), "James": ("Jim", "Jimmy", "Jamie"),
    "John": ("Johnny", "Jack"), "Jonathan": ("Jon", "Jonny"), "Michael": ("Mike", "Mick", "Mikey"),
    "Christopher": ("Chris", "Kit"), "Christine": ("Chris", "Chrissie"), "Thomas": ("Tom", "Tommy"),
    "Anthony": ("Tony", "Ant"), "Andrew": ("Andy", "Drew"), "Alexander": ("Alex", "Sandy", "Xander"),
    "Alexandra": ("Alex", "Lexi", "Sasha"), "Benjamin": ("Ben", "Benny"), "Daniel": ("Dan", "Danny"),
    "David": ("Dave", "Davy"), "Edward": ("Ed", "Eddie", "Ted", "Ned"), "Frederick": ("Fred", "Freddie"),
    "Gregory": ("Greg",), "Henry": ("Harry", "Hank"), "Joseph": ("Joe", "Joey"), "Joshua": ("Josh",),
    "Kenneth": ("Ken", "Kenny"), "Lawrence": ("Larry", "Laurie"), "Matthew": ("Matt", "Matty"),
    "Nicholas": ("Nick", "Nicky"), "Patrick": ("Pat", "Paddy"), "Peter": ("Pete",), "Philip": ("Phil",),
    "Raymond": ("Ray",), "Ronald": ("Ron", "Ronnie"), "Samuel": ("Sam", "Sammy"), "Stephen": ("Steve",),
    "Steven": ("Steve", "Stevie"), "Timothy": ("Tim", "Timmy"), "Terence": ("Terry",), "Vincent": ("Vince",),
    "Zachary": ("Zach", "Zac"), "Charles": ("Charlie", "Chuck", "Chas"), "Douglas": ("Doug", "Dougie"),
    "Gerald": ("Gerry",), "Leonard": ("Len", "Leo"), "Nathan": ("Nate",), "Nathaniel": ("Nate", "Nat"),
    "Oliver": ("Olly", "Ollie"), "Jacob": ("Jake",), "Maximilian": ("Max",), "Geoffrey": ("Geoff",),
    "Abigail": ("Abby", "Abbie"), "Amanda": ("Mandy",), "Barbara": ("Barb", "Babs"),
    "Caroline": ("Carol", "Caz"), "Deborah": ("Debbie", "Deb"), "Dorothy": ("Dot", "Dotty"),
    "Eleanor": ("Ellie", "Nell", "Nora"), "Emily": ("Em", "Emmy"), "Emma": ("Em",), "Frances": ("Fran",),
    "Gillian": ("Gill", "Jill"), "Helen": ("Nell",), "Jacqueline": ("Jackie", "Jacqui"),
    "Jennifer": ("Jen", "Jenny"), "Jessica": ("Jess", "Jessie"), "Josephine": ("Jo", "Josie"),
    "Joanne": ("Jo",), "Judith": ("Judy",), "Kimberley": ("Kim",), "Kimberly": ("Kim",),
    "Lucy": ("Lu",), "Natalie": ("Nat",), "Natasha": ("Tash", "Tasha"), "Nicola": ("Nicky", "Nic"),
    "Pamela": ("Pam",), "Patricia": ("Pat", "Trish", "Patty"), "Rebecca": ("Becky", "Becca", "Bex"),
    "Samantha": ("Sam", "Sammy"), "Sandra": ("Sandy",), "Stephanie": ("Steph",), "Susan": ("Sue", "Suzy"),
    "Suzanne": ("Sue", "Suzie"), "Teresa": ("Tess", "Terri"), "Theresa": ("Tess", "Terri"),
    "Victoria": ("Vicky", "Tori"), "Valerie": ("Val",), "Zoe": ("Zoë",), "Charlotte": ("Lottie", "Charlie"),
    "Danielle": ("Dani",), "Gabrielle": ("Gabby",), "Louise": ("Lou",), "Megan": ("Meg",),
    "Olivia": ("Liv", "Livvy"), "Sophie": ("Soph",), "Sophia": ("Sophie",), "Hannah": ("Han",),
    "Francisco": ("Paco", "Fran"), "José": ("Pepe",), "Manuel": ("Manolo",), "Dolores": ("Lola",),
    "Guillermo": ("Memo",), "Ignacio": ("Nacho",), "Johannes": ("Hans", "Jo"), "Wolfgang": ("Wolf",),
    "Friedrich": ("Fritz",), "Katharina": ("Kathi",), "Elisabeth": ("Lisa", "Elli"), "Guillaume": ("Will",),
    "Stéphane": ("Steph",), "Aleksander": ("Olek",), "Katarzyna": ("Kasia",), "Małgorzata": ("Gosia",),
    "Aleksandra": ("Ola",), "Wojciech": ("Wojtek",), "Agnieszka": ("Aga",),
}
# fmt: on
FIRST_NAME_TOP, LAST_NAME_TOP = 0.035, 0.013  # share of the most common name (David, Smith) in a locale
NICKNAMES_JOINED = {name: "|".join(nicks) for name, nicks in NICKNAMES.items()}


@dataclass(frozen=True)
class NamePool:
    """One locale's names as arrays with sampling probabilities (Zipf-like)."""

    male: np.ndarray
    male_p: np.ndarray
    female: np.ndarray
    female_p: np.ndarray
    last: np.ndarray
    last_p: np.ndarray


def _ranked(values: object, shuffle_seed: int, top_share: float) -> tuple[np.ndarray, np.ndarray]:
    """Names with Zipf-like probabilities whose most common name has `top_share` of the people.

    The shape comes from Faker's weights where it has them, else from the list's popularity order (or
    a fixed shuffle of an alphabetical list); a power of it is taken so the head is as heavy as in life.
    """
    if isinstance(values, dict):
        names = np.array(list(values.keys()), dtype=object)
        shape = np.array(list(values.values()), dtype=float)
    else:
        names = np.array(list(dict.fromkeys(values)), dtype=object)  # type: ignore[call-overload]
        if list(names) == sorted(names):  # alphabetical lists carry no popularity: invent one, fixed
            names = names[np.random.default_rng(shuffle_seed).permutation(len(names))]
        shape = 1.0 / np.arange(1, len(names) + 1)
    low, high = 0.0, 4.0
    for _ in range(40):  # bisect the power: a larger one makes the head heavier
        power = (low + high) / 2
        weights = shape**power
        low, high = (power, high) if weights.max() / weights.sum() < top_share else (low, power)
    return names, weights / weights.sum()


@cache
def name_pool(locale: str) -> NamePool:
    """The weighted name lists of one Faker locale."""
    provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
    last: object = provider.last_names
    if locale == "pl_PL":  # Faker's pl_PL keeps surnames elsewhere; female forms are derived later
        last = tuple(provider.male_last_names) + tuple(provider.unisex_last_names)[:400]
    male, male_p = _ranked(provider.first_names_male, 11, FIRST_NAME_TOP)
    female, female_p = _ranked(provider.first_names_female, 12, FIRST_NAME_TOP)
    last_names, last_p = _ranked(last, 13, LAST_NAME_TOP)
    return NamePool(male, male_p, female, female_p, last_names, last_p)


@cache
def rare_surnames() -> np.ndarray:
    """A long tail of invented but plausible surnames (each one rare)."""
    heads, tails = RARE_SYLLABLES
    return np.array(
        [pre + head + tail for pre in ("", "Mc", "O'") for head in heads for tail in tails], dtype=object
    )
