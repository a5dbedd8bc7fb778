"""Nickname table: diminutive -> formal first name, as match keys (ASCII letters, lower case).

Hand-collected from common English given-name diminutives (the kind listed in public
genealogy nickname tables); one name may have several formal forms ("al" -> albert, alan,
alfred). Two first names are a nickname pair when one is a diminutive of the other, or both
are diminutives of the same formal name (bob ~ rob ~ robert).
"""

from __future__ import annotations

from functools import cache

# formal name: diminutives. Keys and values are `first_name_key` form (letters only).
_TABLE: dict[str, tuple[str, ...]] = {
    "abigail": ("abby", "abbie", "gail"),
    "abraham": ("abe", "bram"),
    "adam": ("ad",),
    "adrian": ("ade",),
    "agnes": ("aggie", "nessa"),
    "albert": ("al", "bert", "bertie"),
    "alan": ("al",),
    "alexander": ("alex", "alec", "sandy", "xander", "lex", "sasha"),
    "alexandra": ("alex", "lexi", "sandra", "sasha", "alexa"),
    "alfred": ("al", "alf", "alfie", "fred"),
    "alice": ("ally", "allie"),
    "alison": ("ali", "ally"),
    "amanda": ("mandy", "manda"),
    "andrew": ("andy", "drew"),
    "angela": ("angie",),
    "anthony": ("tony", "ant"),
    "antonio": ("tony", "toni"),
    "archibald": ("archie",),
    "arnold": ("arnie",),
    "arthur": ("art", "artie"),
    "barbara": ("barb", "babs", "barbie"),
    "benjamin": ("ben", "benny", "benji"),
    "bernard": ("bernie", "barney"),
    "beatrice": ("bea", "trixie"),
    "bradley": ("brad",),
    "bridget": ("biddy", "bridie"),
    "caroline": ("carrie", "caro", "carol"),
    "catherine": ("cathy", "cath", "kate", "katie", "kitty", "cat"),
    "katherine": ("kathy", "kate", "katie", "kat", "kitty"),
    "charles": ("charlie", "chuck", "chas", "chaz"),
    "charlotte": ("lottie", "charlie", "lotte"),
    "christina": ("chris", "tina", "chrissy"),
    "christine": ("chris", "chrissy", "tina"),
    "christopher": ("chris", "kit", "topher"),
    "clifford": ("cliff",),
    "cynthia": ("cindy",),
    "daniel": ("dan", "danny"),
    "danielle": ("dani",),
    "david": ("dave", "davey", "davy"),
    "deborah": ("debbie", "deb", "debs"),
    "dennis": ("den",),
    "donald": ("don", "donny"),
    "dorothy": ("dot", "dottie", "dolly"),
    "douglas": ("doug",),
    "edward": ("ed", "eddie", "ted", "teddy", "ned"),
    "edmund": ("ed", "eddie", "ned"),
    "edwin": ("ed", "eddie"),
    "eleanor": ("ellie", "nell", "nora", "ella"),
    "elizabeth": (
        "liz",
        "lizzie",
        "beth",
        "betty",
        "bet",
        "bette",
        "eliza",
        "libby",
        "elsie",
        "betsy",
        "lisa",
    ),
    "emily": ("em", "emmy", "millie"),
    "emma": ("em", "emmy"),
    "eugene": ("gene",),
    "frances": ("fran", "fanny", "frankie"),
    "francis": ("frank", "frankie", "fran"),
    "frederick": ("fred", "freddie", "freddy", "rick"),
    "gabriel": ("gabe",),
    "gabrielle": ("gabby", "gabi"),
    "geoffrey": ("geoff",),
    "george": ("georgie",),
    "gerald": ("gerry", "jerry"),
    "gregory": ("greg",),
    "gwendolyn": ("gwen",),
    "harold": ("harry", "hal"),
    "henry": ("harry", "hank", "hal"),
    "helen": ("nell", "nellie"),
    "herbert": ("herb", "bert"),
    "isabel": ("izzy", "bella", "isa"),
    "isabella": ("izzy", "bella"),
    "jacob": ("jake", "jay"),
    "james": ("jim", "jimmy", "jamie", "jimbo"),
    "jane": ("janie", "jenny"),
    "janet": ("jan", "jenny"),
    "jennifer": ("jen", "jenny", "jenn"),
    "jessica": ("jess", "jessie"),
    "john": ("johnny", "jack", "jock"),
    "jonathan": ("jon", "jonny", "nathan"),
    "joseph": ("joe", "joey", "jo"),
    "josephine": ("jo", "josie"),
    "joshua": ("josh",),
    "judith": ("judy", "jude"),
    "julia": ("jules", "julie"),
    "kenneth": ("ken", "kenny"),
    "kimberly": ("kim",),
    "lawrence": ("larry", "laurie"),
    "leonard": ("leo", "len", "lenny"),
    "lewis": ("lew",),
    "louis": ("lou",),
    "louise": ("lou", "lulu"),
    "lucinda": ("cindy", "lucy"),
    "madeline": ("maddie", "maddy"),
    "margaret": ("maggie", "meg", "peggy", "peg", "marge", "margie", "greta", "daisy", "molly", "madge"),
    "martha": ("marty", "mattie", "patsy"),
    "martin": ("marty",),
    "mary": ("molly", "polly", "mae", "mamie"),
    "matthew": ("matt", "matty"),
    "maximilian": ("max",),
    "maxwell": ("max",),
    "melissa": ("mel", "missy", "lissa"),
    "michael": ("mike", "mikey", "mick", "micky", "mickey"),
    "michelle": ("shelly", "chelle"),
    "mildred": ("millie",),
    "nathaniel": ("nate", "nat", "nathan"),
    "nicholas": ("nick", "nicky", "nico"),
    "nicola": ("nicky", "nikki"),
    "oliver": ("ollie", "noll"),
    "olivia": ("liv", "livvy", "ollie"),
    "pamela": ("pam",),
    "patricia": ("pat", "patty", "patsy", "tricia", "trish"),
    "patrick": ("pat", "paddy", "rick"),
    "penelope": ("penny",),
    "peter": ("pete",),
    "philip": ("phil", "pip"),
    "phillip": ("phil",),
    "priscilla": ("cilla", "prissy"),
    "rebecca": ("becky", "becca", "bex"),
    "raymond": ("ray",),
    "reginald": ("reg", "reggie"),
    "richard": ("rich", "rick", "ricky", "dick", "richie"),
    "robert": ("rob", "robbie", "bob", "bobby", "bert", "robin"),
    "roberta": ("bobbie", "robbie"),
    "ronald": ("ron", "ronnie"),
    "rosemary": ("rosie", "rose"),
    "samantha": ("sam", "sammy"),
    "samuel": ("sam", "sammy"),
    "sarah": ("sally", "sadie", "sal"),
    "stephanie": ("steph", "stevie"),
    "stephen": ("steve", "stevie"),
    "steven": ("steve", "stevie"),
    "stuart": ("stu",),
    "susan": ("sue", "susie", "suzy"),
    "suzanne": ("sue", "suzy"),
    "sylvester": ("sly",),
    "terence": ("terry",),
    "theodore": ("ted", "teddy", "theo"),
    "thomas": ("tom", "tommy"),
    "timothy": ("tim", "timmy"),
    "tobias": ("toby",),
    "valerie": ("val",),
    "veronica": ("ronnie", "vera"),
    "victoria": ("vicky", "vicki", "tori", "vic"),
    "vincent": ("vince", "vinny"),
    "virginia": ("ginny", "ginger"),
    "walter": ("walt", "wally"),
    "wendy": ("wen",),
    "william": ("will", "bill", "billy", "willy", "liam", "willie"),
    "winifred": ("winnie", "freda"),
    "zachary": ("zach", "zack"),
}


@cache
def nickname_pairs() -> frozenset[tuple[str, str]]:
    """Every unordered nickname pair (a, b) with a < b, including diminutives of one formal name."""
    pairs: set[tuple[str, str]] = set()
    for formal, diminutives in _TABLE.items():
        group = (formal, *diminutives)
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                if a != b:
                    pairs.add((min(a, b), max(a, b)))
    return frozenset(pairs)


@cache
def canonical_names() -> dict[str, str]:
    """Diminutive -> its first-listed formal name (for blocking keys and shared-value name groups)."""
    canon: dict[str, str] = {}
    for formal, diminutives in _TABLE.items():
        canon.setdefault(formal, formal)
        for nick in diminutives:
            canon.setdefault(nick, formal)
    return canon


def table_size() -> int:
    """Number of (formal, diminutive) entries in the table."""
    return sum(len(d) for d in _TABLE.values())
