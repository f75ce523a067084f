"""The safety rules' phrase table (socialdesk_triage.rules applies it): each rule's
pattern, the grade, intent and flags it gives, and the reason an operator reads, in
English and Welsh; and the idioms removed before any rule is tried. Data only."""

from __future__ import annotations

import re
from dataclasses import dataclass

from socialdesk.taxonomy import Flag, Intent, Priority


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern[str]
    reason: str
    priority: Priority | None = None
    intent: Intent | None = None
    flags: tuple[Flag, ...] = ()
    urgency: float = 0.0
    # Its intent wins over earlier rules' when it fires at its own grade: a knife or
    # pills in a message about ending one's life make a welfare concern, not a crime.
    intent_first: bool = False


def _rx(*alternatives: str) -> re.Pattern[str]:
    # Texts are lower-cased once in apply_rules(): case-sensitive matching is faster.
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b")


# Idioms and hyperbole that contain alarming words but are not emergencies.
IDIOMS = _rx(
    r"(?<!\bhe\s)(?<!\bshe\s)(?:is|are|was|it's|its|this|that)\s+killing\s+me",
    r"kill(?:ed|ing)?\s+it",
    r"murder\s+(?:a|an|some)\s+\w+",
    r"dying\s+(?:to|for|of\s+laughter)",
    r"(?:i'?m|im|i\s+am)\s+dead\b(?!\s+serious)",
    r"to\s+die\s+for",
    r"bomb(?:ed)?\s+(?:it|the\s+exam|my\s+exam)",
    r"da\s+bomb",
    r"shoot\s+(?:me\s+)?(?:a\s+)?(?:message|dm|email|text)",
    r"photo\s*shoot",
    r"knock(?:ed)?\s+(?:it\s+)?out\s+of\s+the\s+park",
    r"drop\s+dead\s+gorgeous",
    r"literally\s+dying",
    r"stabbed\s+(?:me\s+|us\s+)?in\s+the\s+back",
    r"shot\s+my\s+shot|shoot\s+(?:my|your|ur|his|her)\s+shot",
    r"die\s+of\s+(?:embarrassment|cringe|shame|boredom)",
    r"(?:feet|back|head|legs)\s+(?:are|is)\s+killing\s+me",
    r"lol|lmao|😂|🤣",
)

WEAPONS = (
    r"(?:knife|knives|kitchen\s+knife|gun|handgun|shotgun|rifle|firearm|pistol|blade|machete|"
    r"axe|sword|samurai|shank|zombie\s+knife|crossbow|hammer|crowbar|bat|baseball\s+bat|"
    r"broken\s+bottle|bottle|screwdriver|acid|something\s+shiny|weapon)"
)
PERSON = (
    r"(?:man|woman|lad|guy|bloke|fella|girl|boy|kid|child|baby|toddler|person|pensioner|"
    r"homeless\s+\w+|old\s+\w+|young\s+\w+|teenager|student|daughter|son|wife|husband)"
)
CHILD = (
    r"(?:child|kids?|kiddies|toddler|baby|little\s+(?:boy|girl|one|lad|un)|wean|"
    r"boy\s+about\s+\d|girl\s+about\s+\d|\d+\s*(?:yr|year)\s*old)"
)

RULES: tuple[Rule, ...] = (
    Rule(
        "weapon_in_use",
        _rx(
            rf"(?:has|have|got|with|wi|wiv|wid|carrying|waving|wavin|pulled(?:\s+out)?|holding|pointing|swinging|brandishing|came\s+at\s+\w+\s+with|went\s+for\s+\w+\s+(?:with|wi))\s+(?:a\s+|an\s+|his\s+|her\s+|some\s+|the\s+)?(?:\w+\s+)?{WEAPONS}",
            rf"{WEAPONS}\s+(?:out|attack|fight|point)",
            rf"{WEAPONS}.{{0,50}}(?:at\s+(?:people|us|me|him|her|them|windows|staff)|everywhere)",
            r"(?:stabbed|stabbing\s+(?!suspect|appeal|victim|case|trial)(?:him|her|them|me|us|people|someone|some\w+|each\s+other|a\s+\w+|the\s+\w+|at|in\s+(?:the|a))|(?:been|there'?s|theres|is)\s+a\s+stabbing|(?<!the\s)(?<!a\s)(?<!'s\s)(?<!\w\s)stabbing\s+(?:on|at|outside|near|in|by)\b|being\s+stabbed|shot\s+at|shooting\s+at|been\s+shot|(?:slash|slic)(?:e|ed|ing)?\s+at|bottled|acid\s+attack|squirted\s+something)",
            r"threaten(?:ed|ing)?\s+to\s+(?:stab|shoot)",
            r"shots?\s+fired|(?:got|been|getting)\s+(?:shot|chibbed|glassed|slashed|knifed)",
            r"(?:fight(?:ing)?|brawl(?:ing)?|goin\s+at\s+each\s+other)\s+(?:with|wi|involving)\s+(?:knives|weapons|swords|machetes|a\s+knife|bats)",
            rf"(?:with|has|got|carrying)\s+what\s+look(?:s|ed)\s+like\s+(?:a\s+)?(?:\w+\s+){{0,2}}{WEAPONS}",
            r"(?:got|has)\s+a\s+bomb|bomb\s+in\s+(?:his|her|the)\s+(?:bag|rucksack|car)",
            # Welsh: with a knife (knives), gun(s), machete, axe
            r"(?:efo|gyda|gydag)\s+(?:cyllell|chyllell|cyllyll|chyllyll|gwn|gynnau|dryll|machete|bwyell)",
            r"wedi\s+(?:cael\s+ei\s+)?[td]rywanu",  # Welsh: (has been) stabbed
        ),
        "threat to life or serious violence described",
        Priority.P1,
        Intent.crime_report,
        (Flag.weapon,),
        0.98,
    ),
    Rule(
        # Same grade, no weapon named: a weapon flag here would mislead the desk.
        "violence_in_progress",
        _rx(
            r"going\s+to\s+kill\s+(?:me|her|him|them|us|his|her)",
            r"(?:threaten(?:ing|ed)?\s+to\s+kill|(?:he|she)'?d\s+kill\s+(?:her|him|me))",
            r"(?:saying|says|said|screaming|shouting|yelling)\s+(?:that\s+)?(?:he|she|they)(?:'ll|\s+will|'?s\s+gonna|'?s\s+going\s+to|'re\s+going\s+to)\s+kill\s+(?:me|her|him|us|them)",
            r"(?:he|she|they)(?:'s|\s+is|\s+are|'re)?\s+(?:killing|strangling|choking|stranglin)\s+(?:me|her|him|us)",
            r"(?:strangling|choking)\s+(?:me|her|him|my\s+\w+)",
            rf"(?:strangling|choking)\s+(?:a|the|this|some)\s+(?:\w+\s+)?{PERSON}",
            rf"(?:kicking|kickin|stamping\s+on|bootin|booting|leatherin|battering|beating|punching)\s+(?:\w+'?s?\s+)?(?:head|him|her|someone|me|(?:a|the|this|some)\s+(?:\w+\s+)?{PERSON})",
            r"(?<!been\s)(?<!keeps\s)(?:attacking|beating|battering|hitting)\s+(?:me|her|him|someone|my\s+(?:mum|mam|mom|dad|nan|wife|husband|sister|brother))",
            r"(?:smashing|banging)\s+(?:her|his|my)\s+head",
            r"(?:sat|sitting|kneeling)\s+on\s+(?:me|her|him|my\s+chest)",
            r"holding\s+(?:his|her)\s+head\s+under",
            r"(?:can'?t|cannot|cant)\s+breathe",
            r"(?:help\s+(?:me|us)\s+)?(?:he|she|they|someone|some\w*)(?:'s|\s+is|\s+are|'re)?\s+(?:breaking|kicking|smashing|tryna\s+boot|trying\s+to\s+(?:boot|kick|break|get))\s+(?:(?:the|my|our)\s+(?:front\s+|back\s+)?(?:door|window)\s+)?(?:in|down|through)",
            r"(?:forcing|boot(?:ing)?|kick(?:ing)?)\s+(?:the|my|our|her|his)\s+(?:front\s+|back\s+)?door",
            r"not\s+breathing|unconscious|unresponsive|not\s+moving|(?:having\s+a\s+)?seizure|fitting\s+on",
            r"bleeding\s+(?:heavily|badly|everywhere|a\s+lot|mad|from\s+(?:his|her|the)\s+(?:head|neck|face|chest))|pool\s+of\s+blood|won'?t\s+stop\s+bleeding",
            r"(?:dragg(?:ed|ing)|drag|pull(?:ed|ing)?|carrying|putting|forcing|bundl(?:ed|ing))\s+(?:a\s+|the\s+)?(?:girl|boy|woman|man|lad|child|kid|her|him)\s+(?:\w+\s+){0,3}(?:into|in)\s+(?:a|the|his|their)\s+(?:\w+\s+)?(?:car|van|bushes|boot|taxi|transit|vehicle|motor|prius)",
            r"(?:been|was|got|being)\s+snatched",
            rf"snatched\s+(?:(?:a|the|my|our|her|his|their)\s+)?(?:\w+\s+)?(?:{PERSON}|{CHILD}|him|her|them)\b(?!'s)|abduct(?:ed|ing)|kidnapp?(?:ed|ing)",
            r"won'?t\s+let\s+me\s+(?:leave|out|go)",
            r"(?:run(?:ning)?|ran|knock(?:ed|ing)?)\s+(?:him|her|them|people|someone|a\s+\w+)\s+(?:over|down)|run\s+over\s+on\s+purpose",
            r"(?:drove|driving|drive|driven|going)\s+(?:\w+\s+)?(?:at|into)\s+(?:a\s+group|people|us|the\s+crowd|pedestrians|the\s+beer\s+garden)",
            r"(?:just\s+)?hit\s+(?:a|the)\s+(?:girl|boy|child|kid|pedestrian|cyclist|woman|man)\b.{0,40}(?:under|not\s+moving|lying)",
            r"(?:being|getting|gettin)\s+(?:attacked|beaten|battered|jumped|glassed|chibbed|stabbed|mugged\s+right\s+now)",
            r"rammed\s+(?:his|her|their|a|the)\s+\w+\s+into|(?:went|drove|ploughed)\s+(?:through|into)\s+(?:the\s+)?(?:beer\s+garden|crowd|market|people)",
            r"dragged\s+along\s+under|onto\s+the\s+(?:tracks|line)|head\s+(?:is\s+|'s\s+)?split\s+open",
            r"(?:broken|broke|snapped)\s+my\s+(?:arm|leg|nose|jaw|ribs?|wrist)",
            r"(?:threatening|going|gonna|about)\s+to\s+jump",
            r"(?:dv|domestic)\s+happening\s+now|going\s+to\s+drive\s+(?:them|us|the\s+kids|into)",
            r"(?:going|gone|round|off)\s+(?:round\s+)?(?:his|her|to)\s+(?:ex'?s?|wife'?s?|house).{0,30}(?:finish|kill|sort)",
            r"set\s+(?:fire|light)\s+to|petrol\s+through",
            r"(?:burglars?|intruders?|someone|some1|sum1|men|man|they)\s+(?:is|are|'s|'re)?\s*(?:in|inside)\s+(?:the|my|our|her|his)\s+(?:house|flat|home)\b.{0,40}(?:right\s+)?now",
            r"trying\s+to\s+(?:get|break)\s+in(?:to)?\b.{0,60}(?:i'?m|im|we'?re|she'?s|he'?s)\s+(?:home|in|inside|alone)",
            # Welsh: being beaten or kicked, threats to kill, not breathing, dragged into a car
            r"cael\s+(?:ei\s+|ei\s+h|fy\s+|eu\s+)?(?:guro|churo|nghuro|curo|gicio|chicio|nghicio|cicio|lusgo|llusgo|tagu|thagu|nhagu)",
            r"bygwth\s+(?:fy\s+|ei\s+|eu\s+|ein\s+)?(?:lladd|ladd|nladd|thrywanu|drywanu|gyrru\s+(?:oddi|i\s+mewn))",
            r"na\s+fydda\s+i'?n\s+gadael\s+yn\s+fyw|(?:ddim|dim)\s+yn\s+anadlu|anymwybodol|(?:ddim|dim)\s+yn\s+symud|wedi\s+stopio\s+symud",
            r"gwaedu'?n?\s+(?:yn\s+)?(?:ddrwg|ofnadwy|lot|drwm)|llusgo\s+(?:dynes|merch|plentyn|hogyn|hogan|bachgen|dyn|rhywun)",
            r"(?:cipio|gipio|chipio)\s+(?:y|fy|ei|ein)\s+(?:plant|plentyn|babi|mab|merch)",
        ),
        "threat to life or serious violence described",
        Priority.P1,
        Intent.crime_report,
        (),
        0.98,
    ),
    Rule(
        "people_trapped",
        _rx(
            r"(?:on\s+fire|fire\s+in|blaze|smoke\s+pouring).{0,100}(?:inside|trapped|in\s+there|still\s+in|window|screaming)",
            r"(?:trapped|stuck)\s+(?:in|inside)\s+(?:the|a)\s+(?:fire|burning|car|flat|house)",
            # Welsh: on fire with people inside, trapped, fallen into water
            r"ar\s+d[aâ]n.{0,100}(?:tu\s+mewn|yn\s+sownd|dal\s+(?:yn|tu|i\s+mewn)|ffenest|sgrechian)",
            r"sownd\s+(?:tu\s+mewn|yn\s+y\s+(?:car|t[ŷy]|fflat|d[ŵw]r|mwd))",
            r"boddi|(?:wedi|newydd)\s+(?:disgyn|ddisgyn|cwympo|gwympo|syrthio)\s+i(?:'r|\s+y|\s+mewn\s+i'?r)\s+(?:afon|m[oô]r|harbwr|llyn|gamlas|d[ŵw]r)",
        ),
        "people trapped or in immediate danger",
        Priority.P1,
        Intent.welfare_concern,
        (),
        0.98,
    ),
    Rule(
        "dangerous_vehicle",
        _rx(
            r"wrong\s+way\s+(?:driver|on|down)",
            r"ffordd\s+anghywir\s+(?:ar|lawr|i\s+lawr|ar\s+hyd)",  # Welsh: the wrong way
            r"(?:on\s+its\s+roof|overturned).{0,60}(?:trapped|inside|not\s+moving|smoke)",
        ),
        "a vehicle endangering life on the road",
        Priority.P1,
        Intent.road_traffic,
        (),
        0.97,
    ),
    Rule(
        "self_harm",
        _rx(
            r"(?:want|going|gonna|plan(?:ning)?)\s+to\s+(?:end\s+(?:it|my\s+life)|kill\s+my\s*self|die\s+tonight)",
            r"end(?:ing)?\s+(?:it\s+all|my\s+life|it\s+tonight)",
            r"suicid(?:e|al)",
            r"(?:taken|took|swallowed|had|necked)\s+(?:all\s+)?(?:my\s+|the\s+|\d+\s+|a\s+load\s+of\s+)?(?:pills|tablets|paracetamol|meds|bleach|an\s+overdose|sleeping\s+pills)",
            # a whole pack or box of a medicine, however it is named
            r"(?:taken|took|swallowed|necked)\s+(?:a\s+|the\s+)?(?:whole|full|entire)\s+(?:pack|packet|box|bottle|strip)s?\s+of",
            r"overdos(?:e|ed)",
            r"(?:no\s+reason|nothing)\s+(?:left\s+)?to\s+live",
            r"(?:every(?:one|body|1)|they|the\s+world|my\s+(?:family|kids|mum|mam|parents))\s+(?:(?:would|will|'?d|'?ll)\s+be|are|is)\s+(?:better\s+off|happier)\s+(?:without\s+me|when\s+i'?m\s+gone|if\s+i\s+(?:wasn'?t\s+here|was\s+gone|died))",
            r"(?:can'?t|cant|don'?t)\s+see\s+the\s+point",
            r"don'?t\s+want\s+to\s+(?:be\s+here|live|wake\s+up)",
            r"(?:on|over|at|off)\s+the\s+(?:edge|bridge|ledge|roof|cliffs?|barrier|railings?)\b.{0,60}(?:jump|end|goodbye|point|done|over|edge)",
            r"(?:sat|sitting|standing|stood)\s+on\s+the\s+(?:edge|bridge|ledge|roof|cliffs?|railings?|parapet)",
            r"climbing\s+over\s+the\s+(?:barrier|railings?|wall)|hanging\s+off|(?:person|someone|somebody|man|woman|lad|girl|boy|kid|child)\s+(?:is\s+)?(?:on|walking\s+(?:on|along|down))\s+the\s+(?:tracks|railway\s+line)|walked\s+into\s+the\s+sea|legs\s+over\s+the\s+edge",
            r"goodbye\s+(?:everyone|all|world|every1)|(?:tell|tel)\s+my\s+\w+\s+i\s+lov\w*",
            r"letters?\s+to\s+(?:everyone|my\s+(?:family|kids|mum|mam|parents))|(?:pills|meds|tablets)\s+lined\s+up",
            r"(?:got|have)\s+(?:the|my|all\s+my|all\s+the)\s+(?:pills|tablets|meds)\s+(?:here|ready|in\s+front|with\s+me)",
            r"(?:got|have|bought)\s+(?:the|a)\s+rope|rope\s+(?:ready|sorted|up)",
            r"(?:nobody|no\s*one|no1)\s+(?:will|would|'?ll)\s+(?:miss|notice)\s+me",
            r"cut\s+(?:too\s+deep|myself|him\s*self|her\s*self|(?:my|his|her|their)\s+(?:wrists?|arms?|throat))",
            r"self[\s-]?harm",
            r"(?:eisiau|isio|mynd\s+i)\s+(?:marw|lladd\s+fy\s+hun)|rhoi\s+diwedd\s+ar",
            r"(?:cymryd|gymryd|llyncu|lyncu)\s+(?:y|yr|fy|potel|bocs|llond)?\s*(?:\w+\s+){0,2}(?:tabledi|pils|paracetamol)",
            r"(?:torri|dorri|lladd|ladd)\s+fy\s+hun|(?:ddim|dim)\s+(?:isio|eisiau|moyn)\s+(?:byw|bod\s+yma)",
            r"(?:mynd\s+i|am)\s+neidio|[cg]erdded\s+i'?r\s+m[oô]r|hongian\s+(?:dros|oddi\s+ar)|(?:[td]u\s+allan\s+i|dros)\s+(?:reiliau|rheiliau|reilen|rheilen)",
        ),
        "possible suicide or self-harm intent",
        Priority.P1,
        Intent.welfare_concern,
        (Flag.self_harm,),
        0.99,
        intent_first=True,
    ),
    Rule(
        "child_in_danger",
        _rx(
            rf"{CHILD}\s+(?:\w+\s+){{0,3}}(?:alone|on\s+(?:his|her|their)\s+own|left|locked|in\s+danger|being\s+(?:hit|beaten|hurt))",
            rf"{CHILD}\b.{{0,60}}(?:railway|tracks|(?:the|a|busy)\s+road\b|edge\s+of\s+the\s+(?:canal|river|water|pond|lake|platform|cliff)|hard\s+shoulder|on\s+the\s+ice|swept|in\s+the\s+(?:river|canal|sea)|hot\s+car|under\s+(?:the|a)\s+car)",
            r"(?:hitting|beating|hurting|punching|kicking)\s+(?:a|the|his|her|their)\s+(?:child|kid|baby|son|daughter|toddler)",
            r"(?:plentyn|babi)\s+(?:ar\s+ei\s+ben\s+ei\s+hun|mewn\s+perygl)",
            r"(?:plentyn|plant|babi|hogyn\s+bach|hogan\s+fach|merch\s+fach|bachgen)\b.{0,60}"
            r"(?:ar\s+ochr\s+(?:y|yr)\s+(?:ffordd|a\d+|draffordd)|ar\s+y\s+rhew|yn\s+y\s+(?:d[ŵw]r|afon|m[oô]r|llyn)|sil\s+ffenest|"
            r"ar\s+y\s+(?:rheilffordd|traciau|cledrau)|ar\s+(?:ei|ei\s+ph)\s*en\s+ei\s+hun)",
        ),
        "a child may be in danger",
        Priority.P1,
        Intent.welfare_concern,
        (Flag.child_at_risk,),
        0.97,
    ),
    Rule(
        "crime_in_progress",
        _rx(
            r"(?:breaking|broke)\s+into\s+(?:a|my|the|next\s+door'?s?)",
            r"(?:happening|going\s+on)\s+(?:right\s+)?now",
            r"(?:being\s+)?(?:burgled|robbed|mugged)\s+(?:right\s+)?now",
            r"in\s+progress",
        ),
        "crime may be in progress",
        Priority.P2,
        Intent.crime_report,
        (),
        0.8,
    ),
    Rule(
        "missing_person",
        _rx(
            r"missing\s+(?:person|man|woman|boy|girl|teen|child|since)",
            r"(?:seen|spotted|saw)\s+(?:the\s+)?missing",
            r"ar\s+goll",
        ),
        "missing person or sighting",
        Priority.P2,
        Intent.information,
        (Flag.missing_person,),
        0.75,
    ),
    Rule(
        "domestic_abuse",
        _rx(
            r"(?:my|her|his)\s+(?:partner|husband|wife|boyfriend|girlfriend|ex)\s+(?:hits|hit|beats|beat|hurts|hurt|threatens|threatened|is\s+violent)",
            r"domestic\s+(?:abuse|violence)",
            r"coercive",
            r"cam-drin\s+domestig",
        ),
        "domestic abuse disclosed",
        Priority.P2,
        Intent.crime_report,
        (Flag.domestic_abuse,),
        0.8,
    ),
    Rule(
        "hate_crime",
        _rx(r"hate\s+crime", r"racially\s+abused", r"racist\s+(?:abuse|attack)", r"homophobic"),
        "hate crime reported",
        Priority.P2,
        Intent.crime_report,
        (Flag.hate_crime,),
        0.7,
    ),
    Rule(
        "welfare",
        _rx(
            r"(?:worried|concerned)\s+(?:about|for)",
            r"(?:haven'?t|not)\s+(?:seen|heard\s+from)\s+(?:my|our|her|him)",
            r"welfare\s+check",
            r"poeni\s+am",
        ),
        "welfare concern",
        Priority.P2,
        Intent.welfare_concern,
        (),
        0.65,
    ),
    Rule(
        "road_hazard",
        _rx(
            r"(?:debris|tree|animal|horse|cow|sheep|ladder)\s+(?:in|on|across)\s+the\s+(?:road|carriageway|motorway|m\d+|a\d+)",
            r"(?:crash|collision|accident)\s+on\s+the",
            r"(?:drunk|drink)\s+driv(?:er|ing)",
            r"wrong\s+way\s+(?:on|down)",
            r"damwain",
        ),
        "road hazard or collision",
        Priority.P2,
        Intent.road_traffic,
        (),
        0.7,
    ),
    Rule(
        "fraud",
        _rx(r"scam(?:med)?", r"fraud", r"phishing", r"conned"),
        "possible fraud",
        Priority.P3,
        Intent.crime_report,
        (Flag.fraud,),
        0.4,
    ),
    Rule(
        "drugs",
        _rx(r"(?:drug|drugs)\s+deal(?:ing|er|ers)?", r"cannabis|weed\s+smell|county\s+lines"),
        "drugs activity reported",
        Priority.P3,
        Intent.crime_report,
        (Flag.drugs,),
        0.35,
    ),
    Rule(
        "crime",
        _rx(
            r"stolen|nicked|burgl(?:ed|ary)|broken\s+into|vandal(?:ised|ized|ism)|theft|shoplift\w*",
            r"assault(?:ed)?|robbed|mugged",
            r"wedi\s+(?:dwyn|torri\s+i\s+mewn)",
        ),
        "crime reported",
        Priority.P3,
        Intent.crime_report,
        (),
        0.4,
    ),
    Rule(
        "asb",
        _rx(
            r"anti[\s-]?social|asb",
            r"(?:youths|kids|teens)\s+(?:causing|throwing|shouting|on\s+bikes)",
            r"off[\s-]?road\s+bikes?|nuisance|loud\s+music|noise",
        ),
        "anti-social behaviour",
        Priority.P3,
        Intent.asb,
        (),
        0.3,
    ),
    Rule(
        "road",
        _rx(r"speeding|parked\s+on|parking|dangerous\s+driving|traffic"),
        "road traffic matter",
        Priority.P3,
        Intent.road_traffic,
        (),
        0.25,
    ),
    Rule(
        "complaint",
        _rx(r"complain(?:t)?|disgrace(?:ful)?|unacceptable|rude\s+officer|cwyn"),
        "complaint about the service",
        Priority.P3,
        Intent.complaint,
        (),
        0.2,
    ),
    Rule(
        "enquiry",
        _rx(
            r"how\s+(?:do|can)\s+i",
            r"(?:can|could)\s+(?:you|someone)\s+(?:tell|help|advise)",
            r"lost\s+property|crime\s+(?:ref|reference)|any\s+update",
            r"sut\s+(?:mae|ydw\s+i)|oes\s+modd",
        ),
        "enquiry",
        Priority.P3,
        Intent.enquiry,
        (),
        0.2,
    ),
    Rule(
        "appreciation",
        _rx(r"thank(?:s|\s+you)|cheers|well\s+done|great\s+job|diolch|legends?|brilliant\s+work"),
        "thanks or praise",
        Priority.P4,
        Intent.appreciation,
        (),
        0.02,
    ),
    Rule(
        "abuse",
        _rx(r"pigs|acab|useless\s+(?:coppers|police|lot)|f+u+c+k+\s+(?:the\s+)?(?:police|feds)"),
        "abuse aimed at police",
        Priority.P4,
        Intent.abuse,
        (),
        0.02,
    ),
    # Flags alone (rules-0.6): no grade and no intent of their own, so the grade, the
    # intent and the guard of the P1 decision are exactly as before; they only name
    # what an operator must know to route the message (a sexual-offence or hate-crime
    # trained officer, the drugs team). Phrasings general to these, in English and Welsh.
    Rule(
        "sexual_offence",
        _rx(
            r"(?:exposed|exposing|flash(?:ed|ing))\s+(?:him|her)sel[fv]|flash(?:ed|ing|er)\s+at",
            r"touching\s+himself|rubb(?:ed|ing)\s+(?:himself|his\s+\w+)\s+(?:against|on)",
            r"grop(?:e|ed|es|ing)|sexual(?:ly)?\s+(?:assault\w*|abuse\w*|harass\w*|touch\w*)",
            r"rap(?:e|ed|ing|ist)|indecent(?:ly)?\s+\w+|upskirt\w*|spiking",
            r"(?:been|got|get|was|were|being|i'?m|she'?s|he'?s)\s+spiked|spiked\s+(?:my|her|his|drinks?)",
            r"(?:up|under)\s+(?:my|her|their|girls'?|women'?s)\s+(?:skirt|dress)s?",
            r"(?:intimate|nude|naked|explicit)\s+(?:pics?|pictures?|photos?|images?|videos?)",
            r"dick\s+pics?|sextort\w*|revenge\s+porn|(?:too\s+drunk\s+to|without\s+(?:my|her)"
            r"|didn'?t)\s+consent",
            r"(?:put|had|stuck)\s+his\s+hands?\s+(?:on|up|down|in)\s+(?:my|her)",
            r"grabb?(?:ed|ing)\s+(?:my|her)\s+(?:bum|arse|ass|breasts?|boobs?|crotch)",
            r"treisio|(?:trais|ymosodiad|cam-drin)\s+rhywiol|lluniau\s+(?:noeth|anweddus)",
            r"rhywbeth\s+yn\s+(?:fy|ei)\s+(?:niod|diod)",
        ),
        "sexual offence described",
        flags=(Flag.sexual_offence,),
    ),
    Rule(
        "self_harm_words",
        _rx(
            r"suicid\w*|self[\s-]?harm\w*|overdos\w*|(?<!could\s)(?<!gonna\s)(?:kill|killing|hurt|"
            r"hurting|harm|harming)\s+(?:my|him|her|them)sel(?:f|ves)",
            r"end(?:ing)?\s+(?:it\s+all|things|my\s+life|her\s+life|his\s+life)",
            r"(?:thinking\s+(?:about|of)|going\s+to|wants?\s+to|wanted\s+to)\s+end(?:ing)?\s+it\b",
            r"(?:don'?t|doesn'?t|not)\s+want(?:ing)?\s+to\s+(?:be\s+here|go\s+on|live|carry\s+on)",
            r"cutting\s+(?:again|(?:my|him|her)self)|(?:throw|throwing)\s+(?:my|him|her)self",
            r"(?:my|this\s+is\s+my)\s+last\s+(?:message|post)|say\s+goodbye\s+to",
            r"lladd\s+fy\s+hun|torri\s+fy\s+(?:hun|arddyrnau|ngarddwrn)|"
            r"(?:ddim|dim)\s+(?:isio|eisiau|moyn)\s+(?:byw|cario\s+mlaen)|hunanladdiad|hunan-niweidio",
        ),
        "self-harm or suicide mentioned",
        flags=(Flag.self_harm,),
    ),
    Rule(
        "drugs_words",
        _rx(
            r"dealing(?!\s+with)|(?<!car\s)(?<!art\s)dealers?|delio|weed|cannabis|canabis|skunk|nitrous|cocaine",
            r"heroin|crack\s+(?:den|house|pipe)|cuckoo(?:ed|ing)|county\s+lines|cyffuriau",
            r"(?:needles?|syringes?)\s+(?:in|on|and|by|under|near)|burnt\s+spoons?",
            r"(?:carry|carrying|hold|holding|moving|run|running|doing)\s+(?:packages?|parcels?|"
            r"food|runs)",
        ),
        "drugs described",
        flags=(Flag.drugs,),
    ),
    Rule(
        "hate_words",
        _rx(
            r"racis[mt]\w*|racial(?:ly)?\s+\w+|hiliol|hiliaeth|antisemit\w*|anti-semit\w*",
            r"anti-(?:jewish|muslim|black|asian|gay|trans)|(?:homo|trans|bi|islamo)phob\w*",
            r"swastikas?|monkey\s+noises|go\s+back\s+(?:to\s+)?(?:where\s+\w+\s+came\s+from|"
            r"(?:your|their|his|her)\s+(?:own\s+)?country|england|africa|pakistan|poland|romania)",
            r"p\*ki|paki|n\*{2,}\w*|f\*g+ot|f\*{3,}s|faggots?|muzzies|dirty\s+(?:jews?|lesbians?"
            r"|gyps(?:y|ies)|pakis?)",
            r"(?:because|cos|coz|cause)\s+(?:of\s+)?(?:my|her|his|their|our)\s+(?:headscarf|hijab"
            r"|turban|religion|race|skin|colou?r|sexuality|disability|accent)",
            r"(?:pull|pulled|pulling|ripped|tugged|grabbed)\s+(?:at\s+)?(?:her|my|his)\s+"
            r"(?:hijab|headscarf|scarf|turban|niqab|kippah)",
            r"called\s+(?:me|her|him|us|them|my\s+\w+)\s+a\s+(?:terrorist|p\*ki|paki)",
        ),
        "hate crime described",
        flags=(Flag.hate_crime,),
    ),
)


# A critical phrase preceded (in the same clause) by one of these is not an emergency:
# "no one was stabbed", "he didn't have a knife", "nobody is threatening to kill me".
