"""THRIVE risk factors read from the text, and the safety net built on them.

A control-room call handler grades by what could happen to whom and how soon:
threat and harm (injured, trapped, dying, a weapon), the vulnerability of the person
(a child, an older person, dementia, pregnancy), immediacy (now, still, help), a
hazard where people are (a live carriageway, a railway line, water, an unattended item
at a transport hub), an offender still present, a child being groomed, a vulnerable
person missing. This module finds those factors (English and Welsh), with the phrase
that showed each, and what lowers them (over, past, news, a question, fiction).

Two uses: the factors are classifier inputs (risk_features), and the safety net
(assess) raises the grade when harm or vulnerability meets immediacy, so an emergency
described in words the training data never used is still not graded routine.
Plain Python, no model: every raise names its factors and phrases.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from socialdesk.taxonomy import Priority


class Factor(StrEnum):
    harm = "harm"  # someone injured, trapped, dying, not breathing, drowning
    threat = "threat"  # violence or a weapon, threats to kill
    vulnerable = "vulnerable"  # a child, an older person, dementia, pregnancy, disability
    immediate = "immediate"  # now, still, help, hurry
    on_scene = "on_scene"  # the writer is there or it is their own family
    hazard = "hazard"  # a place where people can be killed: live road, railway, water
    offender_present = "offender_present"  # the offender is still there or coming back
    grooming = "grooming"  # a child about to meet an adult met online
    missing = "missing"  # someone missing or wandered off
    deprivation = "deprivation"  # no food, water, shelter or medicine for days


class Lowering(StrEnum):
    over = "over"  # it has ended, someone is with them, no one hurt
    past = "past"  # placed in the past without anything still happening
    news = "news"  # a headline, a retweet, a report about elsewhere
    question = "question"  # asks what to do or how to report, hypothetical
    fiction = "fiction"  # a film, game, joke or idiom


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w'])(?:" + "|".join(alternatives) + r")(?![\w'])")


PATTERNS: dict[Factor, re.Pattern[str]] = {
    Factor.harm: _rx(
        r"trapped",
        r"stuck\s+(?:under|in\s+(?:the\s+)?(?:rubble|debris|water|car|lift|mud))",
        r"buried",
        r"pinned",
        r"under\s+(?:the\s+|some\s+)?(?:rubbles?|debris|ruins|collapsed\s+\w+)",
        r"(?:wall|house|roof|building|ceiling|tree|beam|car)\s+(?:has\s+)?"
        r"(?:fell|fallen|collapsed|came\s+down|crumbled)\s+(?:on|over)\s+(?:me|us|him|her|them|myself|someone|people|(?:my|our|his|her|their)\\s+(?:\\w+\\s+)?"
        r"(?:legs?|arms?|head|body|family|child|children|kids?|son|daughter|baby|wife|husband|"
        r"mother|father|mum|dad|brother|sister|aunt|uncle|friend|neighbour|cousin))",
        r"(?:in|from)\s+the\s+rubbles?",
        r"stuck\s+(?:in|inside)\s+(?:the|a|our|my)\s+\w+",
        r"(?:drank|drunk|swallowed|ate|taken|took)\s+(?:some\s+|the\s+)?(?:acid|poison|bleach)",
        r"poison(?:ed|ing)",
        r"need(?:s)?\s+(?:to\s+(?:get|go)\s+)?to\s+(?:the\s+)?hospital",
        r"(?:crushed\s+(?:under|by|me|him|her|them|us|my)|(?:was|were|is|are|been|got)\s+crushed)",
        r"alive\s+under",
        r"almost\s+dead",
        r"near(?:ly)?\s+dead",
        r"(?:gravely|seriously|critically|very)\s+(?:ill|sick)",
        r"passing\s+out",
        r"been\s+(?:hit|run\s+over|knocked\s+down|attacked|beaten|hurt)",
        r"(?:is|he'?s|she'?s|i'?m|they'?re|are|was|were|got|am)\s+(?:hurt|injured|wounded)",
        r"fell\s+on\s+(?:my|his|her|our|their|him|her|them|me|us)",
        r"not\s+breathing",
        r"stopped\s+breathing",
        r"can'?t\s+breathe",
        r"struggling\s+to\s+breathe",
        r"unconscious",
        r"unresponsive",
        r"passed\s+out",
        r"pass\s+out",
        r"blacked\s+out",
        r"bleeding",
        r"blood\s+everywhere",
        r"losing\s+(?:a\s+lot\s+of\s+)?blood",
        r"vomiting\s+blood",
        r"coughing\s+(?:up\s+)?blood",
        r"wounded",
        r"injured",
        r"injury",
        r"injuries",
        r"badly\s+hurt",
        r"seriously\s+hurt",
        r"hurt\s+badly",
        r"broken\s+(?:leg|arm|back|neck|bones?|ribs?|hip|skull)",
        r"(?:leg|arm|back|neck|hip)\s+is\s+broken",
        r"head\s+(?:injury|injuries|wound)",
        r"(?:is|was|got|been|badly|severely|are|were)\s+burn(?:ed|t)",
        r"burns",
        r"dying",
        r"about\s+to\s+die",
        r"going\s+to\s+die",
        r"gonna\s+die",
        r"will\s+die",
        r"could\s+die",
        r"might\s+die",
        r"drowning",
        r"going\s+under",
        r"in\s+the\s+water",
        r"choking",
        r"overdos\w*",
        r"taken\s+(?:a\s+load\s+of|all\s+(?:my|the|her|his))\s+\w+",
        r"seizure",
        r"fitting",
        r"collapsed",
        r"stabbed",
        r"been\s+shot",
        r"gunshot",
        r"giving\s+birth",
        r"in\s+labou?r",
        r"heart\s+attack",
        r"stroke",
        r"on\s+fire",
        r"fire\s+(?:in|at)\s+(?:the|our|my|a)\s+(?:house|flat|building|home)",
        r"smoke\s+(?:everywhere|coming)",
        r"hypotherm\w*",
        r"turning\s+blue",
        r"gone\s+blue",
        # Welsh
        r"wedi\s+(?:ei|ei\s+|'i\s+)?(?:anafu|brifo|frifo)",
        r"anaf\w*",
        r"gwaedu",
        r"anymwybodol",
        r"ddim\s+yn\s+anadlu",
        r"methu\s+anadlu",
        r"yn\s+marw",
        r"boddi",
        r"yn\s+sownd",
        r"wedi\s+(?:ei\s+|'i\s+)?(?:ddal|gaethiwo)\s+(?:o\s+dan|yn)",
        r"o\s+dan\s+y\s+(?:rwbel|wal|to)",
        r"wedi\s+llewygu",
        r"llosgi",
        r"ar\s+d[aâ]n",
        r"trawiad",
        r"gorddos\w*",
    ),
    Factor.threat: _rx(
        r"knife",
        r"knives",
        r"blades?",
        r"machetes?",
        r"guns?",
        r"shotgun",
        r"rifle",
        r"pistol",
        r"firearm",
        r"weapon",
        r"axe",
        r"crossbow",
        r"kill\s+(?:me|us|him|her|them|you|everyone)",
        r"going\s+to\s+kill",
        r"gonna\s+kill",
        r"threaten\w*\s+to\s+(?:kill|hurt|stab|shoot|burn)",
        r"attack(?:ing|ed)?\s+(?:me|us|him|her|them|people|someone|a\s+\w+|my\s+\w+)",
        r"(?:been|being|getting)\s+attacked",
        r"under\s+attack",
        r"assault\w*",
        r"beating\s+(?:me|him|her|them|us|someone|a\s+\w+)",
        r"(?:being|getting)\s+beaten",
        r"terrori[sz]\w*",
        r"hitting\s+(?:me|him|her|them|us)",
        r"punching",
        r"kicking\s+(?:me|him|her|them|us|someone|a\s+\w+|his|her)",
        r"strangl\w*",
        r"shooting",
        r"shots\s+fired",
        r"riot\w*",
        r"kidnap\w*",
        r"abduct\w*",
        r"rap(?:e|ed|ing)",
        r"cyllell",
        r"gwn",
        r"dryll",
        r"bygwth\s+(?:lladd|fy|ein)",
        r"lladd\s+(?:fi|ni|fy|ein)",
        r"ymosod\w*",
        r"curo\s+(?:fi|ni)",
        r"nghuro",
    ),
    Factor.vulnerable: _rx(
        r"child",
        r"children",
        r"kids?",
        r"baby",
        r"babies",
        r"infant",
        r"toddler",
        r"newborn",
        r"little\s+(?:boy|girl|one|ones|lad)",
        r"(?:[2-9]|1[0-5])\s*(?:yr|year|yo)s?(?:\s*old)?",
        r"pregnant",
        r"elderly",
        r"old\s+(?:man|woman|lady|fella|person|people|couple)",
        r"pensioner",
        r"grand(?:ma|mother|pa|father|dad|mum)",
        r"nan\b",
        r"dementia",
        r"alzheimer'?s",
        r"disabled",
        r"disability",
        r"wheelchair",
        r"learning\s+difficult\w*",
        r"autis\w*",
        r"blind",
        r"deaf",
        r"vulnerable",
        r"on\s+(?:her|his|their)\s+own",
        r"alone",
        r"plentyn",
        r"plant",
        r"babi",
        r"hogyn\s+bach",
        r"merch\s+fach",
        r"bachgen\s+bach",
        r"beichiog",
        r"henoed",
        r"hen\s+(?:ddyn|wraig|ddynes)",
        r"dementia",
        r"anabl\w*",
        r"ar\s+ei\s+ben\s+ei\s+hun",
        r"ar\s+ei\s+phen\s+ei\s+hun",
    ),
    Factor.immediate: _rx(
        r"now",
        r"right\s+now",
        r"rn",
        r"atm",
        r"still",
        r"currently",
        r"at\s+the\s+moment",
        r"as\s+we\s+speak",
        r"help",
        r"helps",
        r"sos",
        r"urgent\w*",
        r"emergency",
        r"hurry",
        r"quick(?:ly)?",
        r"asap",
        r"immediately",
        r"please\s+(?:come|send|help)",
        r"send\s+(?:help|someone|an?\s+ambulance|a\s+doctor|rescue)",
        r"need\s+(?:help|a\s+doctor|an\s+ambulance|rescue|rescuing|saving)",
        r"needs?",
        r"please",
        r"pls",
        r"come\s+(?:quick|now|fast|and\s+help)",
        r"999",
        r"nawr",
        r"r[wŵ]an",
        r"dal\s+(?:yna|yma|i|wrthi)",
        r"helpwch",
        r"help\s+plis",
        r"brysiwch",
        r"argyfwng",
        r"ar\s+hyn\s+o\s+bryd",
    ),
    Factor.on_scene: _rx(
        r"i",
        r"i'm",
        r"im",
        r"i've",
        r"we",
        r"we're",
        r"we've",
        r"my",
        r"our",
        r"us",
        r"me",
        r"here",
        r"next\s+to\s+me",
        r"in\s+front\s+of\s+me",
        r"outside\s+my",
        r"there(?:'s|\s+are|\s+is)\s+(?:\w+\s+){0,3}(?:people|someone|somebody|man|woman|"
        r"child|kid|person|boy|girl|baby|lad|bloke|family|families)",
        r"dw\s+i",
        r"dwi",
        r"rydw\s+i",
        r"rydyn\s+ni",
        r"fy",
        r"ein",
        r"ni",
        r"fi",
        r"yma",
    ),
    Factor.hazard: _rx(
        r"motorway",
        r"m\d{1,2}",
        r"a\d{1,4}\s*\(m\)",
        r"carriageway",
        r"hard\s+shoulder",
        r"live\s+lane",
        r"fast\s+lane",
        r"wrong\s+way",
        r"railway\s+line",
        r"on\s+the\s+(?:tracks|line|rails)",
        r"level\s+crossing",
        r"river",
        r"canal",
        r"the\s+sea",
        r"flood\s*water",
        r"the\s+ice",
        r"cliff",
        r"ledge",
        r"edge\s+of\s+(?:the\s+)?(?:bridge|roof|cliff|building)",
        r"unattended\s+(?:bag|package|case|suitcase|item|rucksack|backpack|box)",
        r"suspicious\s+(?:bag|package|case|suitcase|item|device|rucksack|backpack|box)",
        r"wires?\s+(?:sticking|coming)\s+out",
        r"gas\s+leak",
        r"smell\s+of\s+gas",
        r"(?:power|electric\w*)\s+(?:lines?|cables?|wires?)\s+(?:down|sparking|on\s+the\s+ground)",
        r"sparking",
        r"about\s+to\s+collapse",
        r"traffordd",
        r"rheilffordd",
        r"ar\s+y\s+traciau",
        r"afon",
        r"camlas",
        r"clogwyn",
        r"bag\s+(?:amheus|heb\s+neb)",
    ),
    Factor.offender_present: _rx(
        r"(?:he'?s|she'?s|they'?re|he\s+is|she\s+is|they\s+are)\s+still\s+(?:here|there|"
        r"outside|inside|in\s+the|at\s+the|on\s+the|downstairs|upstairs)",
        r"still\s+(?:outside|inside|in\s+the\s+(?:house|flat|garden|building))",
        r"(?:banging|hammering|kicking)\s+(?:on|at)\s+(?:the|my|our)\s+(?:door|window)",
        r"trying\s+to\s+(?:get|break)\s+in",
        r"(?:outside|in)\s+(?:my|our|the)\s+(?:house|flat|door)\s+now",
        r"(?:coming|come)\s+back\s+(?:for|to)",
        r"hiding\s+(?:in|from)",
        r"locked\s+(?:myself|ourselves)\s+in",
        r"dal\s+(?:tu\s+allan|yma|yna|yn\s+y\s+t[ŷy])",
    ),
    Factor.grooming: _rx(
        r"groom\w*",
        r"(?:meet|meeting|see)\s+(?:up\s+with\s+)?(?:a|an|this|some|the)\s+(?:man|guy|bloke|"
        r"adult|older\s+\w+)\s+(?:she|he|they)\s+(?:met|met\s+online|has\s+been\s+talking)",
        r"met\s+(?:him|her|them)?\s*online",
        r"(?:man|guy|adult|bloke)\s+(?:from|off|on)\s+(?:snapchat|snap|instagram|insta|tiktok|"
        r"discord|roblox|online|the\s+internet|an\s+app)",
        r"older\s+(?:man|guy|bloke|boyfriend)",
        r"sending\s+(?:her|him)\s+(?:money|gifts|pictures)",
    ),
    Factor.missing: _rx(
        r"missing",
        r"wandered\s+off",
        r"not\s+come\s+home",
        r"hasn'?t\s+come\s+home",
        r"didn'?t\s+come\s+home",
        r"can'?t\s+find\s+(?:my|our|her|him)",
        r"no\s+one\s+has\s+heard\s+from",
        r"ar\s+goll",
        r"wedi\s+mynd\s+ar\s+goll",
        r"heb\s+ddod\s+adre",
    ),
    Factor.deprivation: _rx(
        r"(?:no|without|any|find\s+(?:any|no))\s+(?:\w+\s+)?(?:food|water|shelter|tents?|"
        r"medicine|medication|insulin|house|home|roof|heating|clothes)",
        r"(?:don'?t|do\s+not|didn'?t|can'?t|cannot|haven'?t|have\s+not|never)\s+"
        r"(?:\w+\s+){0,2}(?:food|water|shelter|tents?|medicine|a\s+house|a\s+home|eat)",
        r"nothing\s+to\s+(?:eat|drink|survive)",
        r"starv\w*",
        r"hungry",
        r"hunger",
        r"thirst\w*",
        r"sleeping\s+(?:outside|on\s+the\s+(?:road|street|streets|ground)|in\s+the\s+"
        r"(?:street|streets|road|rain|open|cold))",
        r"(?:living|sleeping|staying)\s+(?:in|on)\s+the\s+(?:street|streets|road)",
        r"(?:under|in)\s+the\s+rain",
        r"rain\s+is\s+(?:wetting|soaking)",
        r"(?:sick|ill|fever|diarrh\w*|cholera|infect\w*|pneumonia|namonia|epidemic|disease\w*)",
        r"dead\s+bod(?:y|ies)",
        r"homeless",
        r"(?:lost|have)\s+(?:everything|nothing\s+left)",
        r"(?:can|could)\s+no\s+longer\s+survive",
        r"(?:sleep|sleeping|living|live)\s+(?:under\s+the\s+trees|in\s+the\s+yard|outside)",
        r"(?:are|am|i'?m|we'?re)\s+(?:in|on)\s+the\s+(?:street|streets|road|sun)",
        r"can'?t\s+take\s+it\s+any\s*more",
        r"cannot\s+take\s+it\s+any\s*more",
        r"waiting\s+(?:for\s+)?the\s+death",
        r"want\s+to\s+die",
        r"no\s+news\s+of\s+(?:my|our)",
        r"heb\s+(?:fwyd|ddŵr|ddwr|do|gartref)",
        r"llwgu",
        r"yn\s+s[aâ]l",
    ),
}

LOWERING: dict[Lowering, re.Pattern[str]] = {
    Lowering.over: _rx(
        r"(?:he|she|they)(?:'s|'ve|\s+has|\s+have)\s+(?:gone|left|run\s+off)",
        r"gone\s+now",
        r"all\s+sorted",
        r"(?<!not\s)(?:i'?m|we'?re|she'?s|he'?s|they'?re|everyone'?s)\s+(?:ok|okay|fine|safe|"
        r"alright)",
        r"(?:no\s*one|nobody)\s+(?:was\s+|got\s+|is\s+)?(?:hurt|injured)",
        r"(?:paramedics|ambulance|police|doctors?)\s+(?:are|is)\s+(?:here|with|on\s+scene)",
        r"(?:i'?m|we'?re)\s+with\s+(?:him|her|them)",
        r"in\s+hospital",
        r"resting\s+well",
        r"done\s+with",
        r"being\s+(?:treated|looked\s+after|cared\s+for)",
        r"found\s+(?:him|her|them)\s+(?:safe|now)",
        r"everything'?s\s+(?:fine|ok|okay|alright)",
        r"all\s+(?:fine|ok|okay|good)\s+(?:here|now)",
        r"yn\s+(?:iawn|saff)",
    ),
    Lowering.past: _rx(
        r"years?\s+ago",
        r"months?\s+ago",
        r"weeks?\s+ago",
        r"last\s+(?:week|month|year|summer|winter|night)",
        r"yesterday",
        r"back\s+in\s+(?:19|20)\d\d",
        r"when\s+i\s+was\s+(?:a\s+)?(?:kid|child|young|little)",
        r"(?:in|from|since|after|during|by)\s+the\s+(?:earthquake|quake|storm|hurricane|flood)",
        r"llynedd",
        r"neithiwr",
        r"ddoe",
        r"(?:blynedd|mlynedd|flynyddoedd|wythnos|mis)\s+yn\s+[oô]l",
    ),
    Lowering.news: _rx(
        r"rt",
        r"breaking",
        r"(?<!no\s)(?<!any\s)news",
        r"reportedly",
        r"reports?\s+(?:say|of|that)",
        r"according\s+to",
        r"death\s+toll",
        r"magnitude",
        r"rescue\s+efforts?",
        r"(?:earthquake|quake|storm|hurricane|flood)\s+(?:hits|strikes|leaves)",
        r"tragic",
        r"https?",
        r"bit\.ly",
        r"ready\s+to\s+receive",
        r"free\s+of\s+charge",
        r"officials?",
        r"headlines?",
        r"bbc",
        r"cnn",
        r"via\s+@\w+",
        r"newyddion",
    ),
    Lowering.question: _rx(
        r"what\s+(?:should|do|can|would)\s+(?:we|i|you|people)\s+do\s+if",
        r"what\s+to\s+do\s+if",
        r"how\s+(?:do|can|should)\s+(?:i|we|you)\s+(?:report|tell|find|get|know)",
        r"how\s+to",
        r"in\s+case\s+of",
        r"is\s+it\s+(?:true|normal|illegal|legal)",
        r"what\s+happens\s+if",
        r"(?:would\s+like|need|want)\s+to\s+know",
        r"do\s+you\s+know",
        r"what\s+(?:are|is)\s+(?:you|the\s+government|they)\s+doing",
        r"sut\s+(?:mae|ydw|dw|ydyn)",
    ),
    Lowering.fiction: _rx(
        r"film",
        r"movie",
        r"game",
        r"episode",
        r"series",
        r"novel",
        r"fortnite",
        r"gta",
        r"call\s+of\s+duty",
        r"netflix",
        r"lol",
        r"lmao",
        r"haha\w*",
        r"jk",
        r"joking",
        r"ffilm",
        r"g[eê]m",
        r"dying\s+(?:to|for|of\s+(?:laughter|boredom|embarrassment))",
        r"(?:is|are|was)\s+killing\s+me",
        r"literally\s+dying",
        r"i'?m\s+dead",
    ),
}

# The harm that is severe without more: the minutes count.
SEVERE = _rx(
    r"trapped",
    r"stuck\s+under",
    r"buried",
    r"pinned",
    r"under\s+(?:the\s+|some\s+)?(?:rubbles?|debris|ruins|collapsed\s+\w+)",
    r"(?:wall|house|roof|building|ceiling|tree|beam|car)\s+(?:has\s+)?(?:fell|fallen|"
    r"collapsed|came\s+down|crumbled)\s+(?:on|over)\s+(?:me|us|him|her|them|myself|someone|people|(?:my|our|his|her|their)\\s+(?:\\w+\\s+)?"
    r"(?:legs?|arms?|head|body|family|child|children|kids?|son|daughter|baby|wife|husband|"
    r"mother|father|mum|dad|brother|sister|aunt|uncle|friend|neighbour|cousin))",
    r"(?:crushed\s+(?:under|by|me|him|her|them|us|my)|(?:was|were|is|are|been|got)\s+crushed)",
    r"alive\s+under",
    r"almost\s+dead",
    r"near(?:ly)?\s+dead",
    r"(?:gravely|seriously|critically|very)\s+(?:ill|sick)",
    r"(?:about\s+to|going\s+to|gonna)\s+pass\s+out",
    r"passing\s+out",
    r"i'?ve\s+been\s+(?:hit|attacked|beaten|stabbed|shot)",
    r"i\s+(?:was|got)\s+(?:hit|attacked|beaten)\s+(?:here|now|just)",
    r"fell\s+on\s+(?:my|his|her|our|their|him|her|them|me|us)",
    r"not\s+breathing",
    r"stopped\s+breathing",
    r"can'?t\s+breathe",
    r"unconscious",
    r"unresponsive",
    r"bleeding",
    r"losing\s+(?:a\s+lot\s+of\s+)?blood",
    r"vomiting\s+blood",
    r"dying",
    r"about\s+to\s+die",
    r"going\s+to\s+die",
    r"gonna\s+die",
    r"drowning",
    r"in\s+the\s+water",
    r"choking",
    r"overdos\w*",
    r"seizure",
    r"stabbed",
    r"been\s+shot",
    r"giving\s+birth",
    r"in\s+labou?r",
    r"heart\s+attack",
    r"on\s+fire",
    r"wounded",
    r"injured",
    r"badly\s+hurt",
    r"seriously\s+hurt",
    r"broken\s+(?:leg|arm|back|neck|bones?|skull)",
    r"head\s+(?:injury|injuries|wound)",
    r"(?:is|was|got|been|badly|severely|are|were)\s+burn(?:ed|t)",
    r"hypotherm\w*",
    r"(?:turning|going|gone)\s+(?:blue|grey|gray)",
    r"taken\s+(?:a\s+load\s+of|all\s+(?:my|the|her|his))\s+\w+",
    r"(?:swallowed|drank|drunk)\s+(?:some\s+|the\s+)?(?:acid|poison|bleach)",
    r"gwaedu",
    r"anymwybodol",
    r"ddim\s+yn\s+anadlu",
    r"methu\s+anadlu",
    r"yn\s+marw",
    r"boddi",
    r"o\s+dan\s+y\s+(?:rwbel|wal|to)",
    r"ar\s+d[aâ]n",
    r"gorddos\w*",
)
# Hunger and thirst kill over days: "dying of hunger" is deprivation (P2), not P1.
SLOW_DYING = re.compile(
    r"(?:dying|die|starving)\s+(?:of|from|with|because\s+of)\s+(?:hunger|thirst|starvation|"
    r"the\s+cold|poverty|misery)|dying\s+(?:of\s+)?hunger"
)
NIGHT_OR_COLD = _rx(
    r"dark",
    r"night",
    r"tonight",
    r"freezing",
    r"cold",
    r"snow",
    r"ice",
    r"storm",
    r"rain",
    r"river",
    r"canal",
    r"sea",
    r"water",
    r"nos",
    r"heno",
    r"oer",
    r"tywyll",
)
HASHTAG = re.compile(r"#\w+")  # two or more: a broadcast or chatter, not a call for help
MAX_READ = 5000  # the factors read the start of a long message; the rules read all of it


@dataclass
class RiskReading:
    """What the text shows of each factor (the phrase that showed it) and the grade the
    safety net says it can be no lower than."""

    found: dict[Factor, str] = field(default_factory=dict)
    lowered: dict[Lowering, str] = field(default_factory=dict)
    floor: Priority | None = None
    why: str = ""

    def has(self, *factors: Factor) -> bool:
        return any(f in self.found for f in factors)

    def reason(self) -> str | None:
        """The factors and phrases an operator reads, never a stop word on its own."""
        shown = [
            f"{f.value.replace('_', ' ')} ('{p}')"
            for f, p in self.found.items()
            if f != Factor.on_scene
        ]
        if not shown:
            return None
        text = "risk factors: " + ", ".join(shown)
        if self.lowered:
            text += "; lowered by " + ", ".join(
                f"{k.value} ('{v}')" for k, v in self.lowered.items()
            )
        if self.floor is not None:
            text += f"; safety net: at least {self.floor.value} ({self.why})"
        return text


def read(text: str) -> RiskReading:
    """Find the factors in a message (any case) and decide the safety net's floor."""
    low = text[:MAX_READ].lower().replace("\u2019", "'")
    out = RiskReading()
    for factor, pattern in PATTERNS.items():
        m = pattern.search(low)
        if m:
            out.found[factor] = m.group(0)
    for lowering, pattern in LOWERING.items():
        m = pattern.search(low)
        if m:
            out.lowered[lowering] = m.group(0)
    tags = HASHTAG.findall(low)
    if len(tags) >= 2 and Lowering.news not in out.lowered:
        out.lowered[Lowering.news] = " ".join(tags[:2])
    out.floor, out.why = _floor(low, out)
    return out


def _floor(low: str, r: RiskReading) -> tuple[Priority | None, str]:
    """The safety net: harm or vulnerability meeting immediacy. Severe harm happening to
    the writer or in front of them is P1 unless the message reads as over, past, news,
    a question or fiction; lesser combinations and lowered readings floor at P2."""
    lowered = set(r.lowered)
    distant = bool(lowered & {Lowering.news, Lowering.fiction})
    if distant and not r.has(Factor.on_scene):
        return None, ""
    near = not distant
    severe = SEVERE.search(low)
    slow = SLOW_DYING.search(low)
    if severe and slow and severe.start() >= slow.start() and severe.end() <= slow.end():
        severe = None
    live = near and not lowered & {Lowering.over, Lowering.past, Lowering.question}
    now = r.has(Factor.immediate)
    here = r.has(Factor.on_scene)
    if severe and live and (now or here):
        return Priority.P1, "harm meets immediacy"
    if r.has(Factor.vulnerable) and r.has(Factor.harm) and (now or here) and live:
        return Priority.P1, "a vulnerable person hurt now"
    if r.has(Factor.threat) and now and here and live:
        return Priority.P1, "violence or a weapon now"
    if r.has(Factor.offender_present) and r.has(Factor.threat, Factor.harm) and live:
        return Priority.P1, "offender present with violence or injury"
    if r.has(Factor.grooming) and r.has(Factor.vulnerable) and live:
        return Priority.P1, "a child meeting someone who groomed them"
    if (
        r.has(Factor.missing)
        and r.has(Factor.vulnerable)
        and (r.has(Factor.hazard) or NIGHT_OR_COLD.search(low))
        and live
    ):
        return Priority.P1, "a vulnerable person missing in danger"
    if r.has(Factor.hazard) and live and _hazard_is_live(low):
        return Priority.P1, "people in a live hazard now"
    if distant:
        return None, ""
    if severe or r.has(Factor.offender_present, Factor.grooming):
        return Priority.P2, "harm described, not shown to be happening now"
    if r.has(Factor.missing) and r.has(Factor.vulnerable):
        return Priority.P2, "a vulnerable person missing"
    if r.has(Factor.deprivation) and here:
        return Priority.P2, "without food, water, shelter or care"
    if r.has(Factor.harm) and here:
        return Priority.P2, "someone hurt"
    if r.has(Factor.missing) and here:
        return Priority.P2, "someone missing"
    return None, ""


LIVE_HAZARD = re.compile(
    r"(?:unattended|suspicious)\s+(?:bag|package|case|suitcase|item|device|rucksack|backpack|"
    r"box)|(?:person|man|woman|kid|child|someone|people|boy|girl|bloke)\s+(?:\w+\s+){0,3}"
    r"(?:on|in|walking\s+(?:on|along|down)|wandering\s+(?:on|along))\s+(?:the\s+)?(?:motorway|"
    r"carriageway|hard\s+shoulder|tracks|railway|line|m\d{1,2})|(?:on|in)\s+the\s+(?:fast|"
    r"middle|outside|live)\s+lane|(?:power|electric\w*)\s+(?:lines?|cables?|wires?)\s+"
    r"(?:are\s+|is\s+)?(?:down|sparking)|gas\s+leak|smell\s+of\s+gas|wrong\s+way\s+(?:up|down|on)"
)


def _hazard_is_live(low: str) -> bool:
    """A hazard counts for P1 only with people in it now (not a pothole on the M6)."""
    return LIVE_HAZARD.search(low) is not None


def risk_features(readings: Sequence[RiskReading]) -> np.ndarray:
    """The factors, lowerings and the safety net's floor as classifier inputs (0/1)."""
    cols = len(Factor) + len(Lowering) + 2
    out = np.zeros((len(readings), cols), dtype=np.float64)
    for i, r in enumerate(readings):
        for j, f in enumerate(Factor):
            out[i, j] = f in r.found
        for j, lo in enumerate(Lowering):
            out[i, len(Factor) + j] = lo in r.lowered
        out[i, -2] = r.floor == Priority.P1
        out[i, -1] = r.floor == Priority.P2
    return out
