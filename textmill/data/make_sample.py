"""Generate textmill's bundled sample crawl: a small, deterministic, realistic WARC file.

`textmill demo` and the end-to-end tests run the FineWeb pipeline on this file, so it holds the
noise that pipeline exists to remove, in known proportions, with a manifest of ground truth:
good articles wrapped in menus, cookie banners and footers; SEO spam; link lists; short pages;
lorem ipsum; code; exact and near duplicates; six other languages; blocked URLs; e-mail and IP
addresses; revisit records, a legacy charset and non-HTML responses for the readers' skip paths.

Every word of page text is written for this project (sentence bank below, combined by a seeded
generator); every domain is invented (`.example` / `.test`). Same seed, same bytes: WARC dates
and record ids derive from the seed and each gzip member has mtime 0.

    python -m textmill.data.make_sample [-o textmill/data/sample.warc.gz] [--seed N]
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import gzip
import hashlib
import html
import io
import json
import random
import re
import struct
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SEED = 20240304
DATA_DIR = Path(__file__).resolve().parent
DEFAULT_WARC_PATH = DATA_DIR / "sample.warc.gz"
CRAWL_START = dt.datetime(2024, 3, 4, 5, 6, 7, tzinfo=dt.UTC)

# How many pages of each kind the sample holds (articles get the remainder of nothing: fixed).
ARTICLE_COUNT = 250
EXACT_DUP_ORIGINALS = 10  # each copied 1-3 times
NEAR_DUP_ORIGINALS = 12  # each varied 1-3 times
SPAM_COUNT = 14
LINK_LIST_COUNT = 14
SHORT_COUNT = 14
LOREM_COUNT = 8
CODE_COUNT = 10
PAGES_PER_LANGUAGE = 4
BLOCKED_URL_COUNT = 3
PII_ARTICLE_COUNT = 24
REVISIT_COUNT = 5
# Distinct articles stay below this 5-gram Jaccard similarity: MinHash at 14 bands x 8 rows
# (FineWeb) pairs two documents with probability 1-(1-J^8)^14, about 0.02% at J = 0.25.
MAX_ARTICLE_SIMILARITY = 0.25

# ---------------------------------------------------------------------------------------------
# The sentence bank. `[a|b|c]` picks one alternative; `{slot}` is filled per article so that a
# name or a city stays the same within one page. Written for textmill; not taken from anywhere.
# ---------------------------------------------------------------------------------------------

TOPICS: dict[str, dict[str, list[str]]] = {
    "science": {
        "titles": [
            "What the {city} [survey|study] tells us about [soil microbes|migrating birds|coastal "
            "fog]",
            "A closer look at the new [telescope|seismometer|weather station] near {city}",
            "Why [researchers|scientists] at {org} are [counting|tracking] [bees|bats|dragonflies]",
            "The quiet [revolution|shift] in how we [measure|study] [rainfall|river "
            "sediment|pollen]",
            "{surname}'s team [publishes|shares] [ten|twelve] years of [lake|forest|glacier] data",
        ],
        "sentences": [
            "The [study|project] began in {year}, when {person} and a small team from {org} set "
            "out to [measure|record] how [quickly|often] the [lake|river|marsh] near {city} "
            "changed over a single season.",
            "Most of the [early|first] measurements were taken by hand, which meant that every "
            "[sample|reading] had to be labelled, stored and checked twice before it could be "
            "used.",
            "By the end of the first year the team had collected more than {big} "
            "[samples|readings], far more than they had expected.",
            "What surprised them was not the average value but the [spread|variation], which was "
            "[much|far] wider than any textbook had suggested.",
            "{surname} explains that a single [warm|dry|wet] week can shift the [results|numbers] "
            "for an entire month, so patience matters more than clever equipment.",
            "The instruments themselves are [surprisingly|remarkably] simple: a [sealed|weighted] "
            "box, a battery that lasts about {num} weeks, and a sensor no larger than a thumb.",
            "[Volunteers|Local students] from {city} helped to [collect|sort] the [samples|data] "
            "on weekends, and several of them have since [joined|gone on to study at] {org}.",
            "The data suggest that the [population|level] rose by roughly {pct} percent over the "
            "decade, although the [yearly|seasonal] pattern is far from smooth.",
            "Other [groups|laboratories] have tried to repeat the [work|measurements], and so far "
            "their figures agree within the margin of error.",
            "Critics point out that a single site cannot tell the whole story, and the team is "
            "careful to say the same thing in its [report|paper].",
            "A second phase of the project will add {num} new [sites|stations] along the "
            "[valley|coast], each of them [visited|checked] once a month.",
            "The [raw|full] data set is [published|shared] openly, so that anyone with a "
            "spreadsheet can check the [numbers|calculations] for themselves.",
            "For {surname}, the most [important|valuable] lesson is that long records are rare, "
            "and that they are only possible when people keep [showing up|coming back] year after "
            "year.",
            "In the [winter|colder] months the [readings|samples] become harder to take, because "
            "the [ground|water] freezes and the [paths|roads] to the sites are often closed.",
            "The team now [uses|relies on] a small solar panel to keep the sensors running "
            "through the darkest weeks of the year.",
            "When the [results|figures] were first presented at a meeting in {city}, several "
            "people in the audience asked whether the [instruments|sensors] had simply drifted.",
            "To answer that question, the team [compared|checked] every sensor against a "
            "reference [instrument|device] kept in the laboratory at {org}.",
            "The differences turned out to be [tiny|small], well under one percent, which gave "
            "the group confidence that the trend was real.",
            "[Funding|Money] for the [work|project] came from a mix of small grants, a local "
            "[foundation|trust] and the university's own budget.",
            "There is still a great deal that nobody understands about how these "
            "[systems|communities] respond to a sudden change in temperature.",
            "{surname} hopes that the next generation of [students|researchers] will "
            "[continue|extend] the record for at least another twenty years.",
            "Some of the [oldest|earliest] [notebooks|logbooks] from the project are now kept in "
            "the library at {org}, where visitors can ask to see them.",
        ],
    },
    "cooking": {
        "titles": [
            "A [simple|weeknight|foolproof] [lentil soup|tomato stew|vegetable curry] for cold "
            "evenings",
            "How to bake [bread|flatbread|rye loaves] at home without a [mixer|special oven]",
            "{person}'s [favourite|family] recipe for [roast vegetables|apple cake|onion tart]",
            "Five [lessons|things] I learned from a year of cooking with [beans|grains|leftovers]",
            "The [market|bakery] in {city} that changed the way I [cook|shop]",
        ],
        "sentences": [
            "Start by [warming|heating] a [generous|large] spoonful of oil in a heavy pan over a "
            "medium flame.",
            "Add the [chopped|sliced] onions with a pinch of salt and let them soften slowly for "
            "about {num} minutes, stirring now and then.",
            "[Do not|Never] rush this step, because the sweetness of the finished dish depends on "
            "onions that have been cooked gently.",
            "When the kitchen [starts to smell|smells] of garlic, stir in the spices and let them "
            "toast for a minute before adding anything wet.",
            "I learned this [recipe|method] from {person}, who has [run|kept] a small "
            "[café|restaurant|food stall] in {city} for more than twenty years.",
            "The [trick|secret], I was told, is to taste the [sauce|soup|dough] often and to "
            "trust your tongue more than the written [recipe|instructions].",
            "A good loaf needs only flour, water, salt and time, and of those four the last is "
            "the one that most people forget.",
            "Leave the dough [covered|under a cloth] in a warm corner of the kitchen until it has "
            "roughly doubled in size.",
            "If your kitchen is cold, the [rise|dough] may take twice as long, and that is "
            "perfectly fine.",
            "Serve the [soup|stew|curry] with a spoonful of yoghurt, a squeeze of lemon and "
            "plenty of fresh bread on the side.",
            "Leftovers keep well in the fridge for three days, and [many people|I] think the "
            "flavour is even better on the second day.",
            "You can [replace|swap] the [lentils|chickpeas] with white beans if that is what you "
            "have in the cupboard.",
            "Buying [vegetables|fruit] that are in season is usually cheaper, and the difference "
            "in taste is easy to notice.",
            "On Saturday mornings the market in {city} is busy by eight o'clock, and the best "
            "[tomatoes|apples|greens] are gone by ten.",
            "A sharp knife is safer than a blunt one, because it does not slip off the skin of an "
            "onion or a pepper.",
            "Keep a jar of stock in the freezer and you will always be [halfway|most of the way] "
            "to a good dinner.",
            "[My grandmother|{person}] used to say that a meal shared with friends tastes better "
            "than the same meal eaten alone.",
            "Let the cake cool in its tin for ten minutes before turning it out onto a rack.",
            "If the top browns too quickly, cover it loosely with a sheet of paper for the last "
            "part of the baking time.",
            "The whole [dish|recipe] costs [less than|about] {num} euros for four people, which "
            "makes it a regular on our table.",
            "Children [enjoy|like] helping with this recipe, especially the part where the dough "
            "has to be pressed and folded.",
            "There is no need for expensive equipment, and a wooden spoon and a large bowl will "
            "do most of the work.",
        ],
    },
    "travel": {
        "titles": [
            "Three days in {city}: [walks|markets|museums] and quiet corners",
            "Taking the [slow train|night bus|ferry] to {city}",
            "A [walking|cycling] guide to the old [harbour|quarter|hills] of {city}",
            "What I wish I had known before visiting {city} in {month}",
            "{city} on a [small|tight] budget",
        ],
        "sentences": [
            "The train from the capital reaches {city} a little after [noon|ten in the morning], "
            "and the station is only a short walk from the old town.",
            "[Most|Many] visitors spend a single afternoon here, but the town rewards anyone who "
            "stays long enough to see it wake up in the morning.",
            "We rented a small room above a bakery, and every morning began with the smell of "
            "fresh bread drifting up the stairs.",
            "The [harbour|waterfront] is at its best in the early evening, when the fishing boats "
            "come in and the cafés put out their chairs.",
            "A [ferry|boat] leaves for the islands [twice|three times] a day in summer, and the "
            "crossing takes a little over an hour.",
            "If you [visit|come] in {month}, bring a warm jacket, because the wind off the water "
            "can be colder than the forecast suggests.",
            "The museum is small but [well kept|thoughtful], and its rooms on local fishing and "
            "weaving are worth an [hour|afternoon] of anyone's time.",
            "Entry costs {num} euros, and the ticket is also valid for the [tower|chapel|garden] "
            "on the hill above the town.",
            "From the top of the [hill|tower] you can see the whole bay, the [islands|lighthouse] "
            "and, on a clear day, the mountains beyond.",
            "Our guide, {person}, grew up in {city} and knew the name of almost everyone we "
            "passed in the street.",
            "We were shown the house where one family had repaired nets for [forty|fifty] years, "
            "and the [square|corner] where the weekly market still meets.",
            "Prices in the old town are higher than in the newer districts, so it pays to walk a "
            "few streets away from the main square for lunch.",
            "Buses to the nearby villages are cheap and reliable, although the timetable changes "
            "at the end of the summer season.",
            "We [hired|borrowed] bicycles for a day and followed a quiet road along the "
            "[coast|river] to a village with a single café.",
            "The [path|trail] is well marked and mostly flat, which makes it suitable for "
            "families with older children.",
            "[Many|Most] shops close for a long lunch in the middle of the day and open again in "
            "the late afternoon.",
            "It is polite to greet the shopkeeper when you enter, even if you only want to look "
            "around.",
            "On our last evening we ate grilled fish at a table by the water and watched the "
            "lights come on across the bay.",
            "I would happily return to {city}, perhaps in a quieter month, with more time and "
            "fewer plans.",
            "The [tourist office|visitor centre] near the station has free maps and can help to "
            "book rooms in family guesthouses.",
            "Carry some cash, because several of the smaller [restaurants|guesthouses] do not "
            "accept cards.",
            "The journey home took longer than expected, but the view from the window made up for "
            "the delay.",
        ],
    },
    "local_news": {
        "titles": [
            "{city} council [approves|delays] plan for new [library|footbridge|sports hall]",
            "Residents [gather|meet] to discuss the future of the {city} [market|park|bus station]",
            "[Volunteers|Neighbours] [clean up|restore] the [riverbank|old cemetery|community "
            "garden] in {city}",
            "{city} school [celebrates|marks] {num} years with an open day",
            "Road works on the main street in {city} to [begin|end] in {month}",
        ],
        "sentences": [
            "The [council|town board] of {city} voted on {weekday} evening to [approve|postpone] "
            "the long-discussed plan for a new [library|footbridge|sports hall].",
            "About [forty|sixty|eighty] residents attended the meeting, which lasted well past "
            "ten o'clock.",
            "Supporters of the plan argued that the town has outgrown its current building, which "
            "was opened in {year}.",
            "Opponents said that the cost, estimated at {big} thousand euros, was too high at a "
            "time when other services are under pressure.",
            "Councillor {person} said the decision had not been easy, but that the town could not "
            "afford to wait another decade.",
            "Work is expected to [begin|start] in {month}, and the council hopes the "
            "[project|building] will be finished within two years.",
            "During the works, the [car park|footpath] next to the town hall will be closed, and "
            "a temporary route will be signposted.",
            "Local shop owners have asked the council to keep the disruption to a minimum during "
            "the busy weeks before the holidays.",
            "{surname}, who runs a [bakery|hardware shop|bookshop] on the main street, said that "
            "most customers support the plan.",
            "A public [exhibition|display] of the designs will be held in the town hall for three "
            "weeks, and comments can be left in writing.",
            "The volunteers met at nine on Saturday morning and had filled more than {num} bags "
            "of litter by lunchtime.",
            "Several families brought their children, who were given gloves and small "
            "[grabbers|rakes] to help with the work.",
            "The [group|association] was founded by {person} after a flood in {year} left the "
            "[riverbank|park] covered in debris.",
            "It now has more than {big} members and organises a clean-up every month between "
            "spring and autumn.",
            "The local [school|primary school] celebrated its anniversary with an open day, a "
            "small exhibition of old photographs and a concert in the hall.",
            "Former pupils travelled from across the country to attend, and some had not been "
            "back to the building for fifty years.",
            "The head teacher, {person}, thanked parents and staff for their work during a "
            "difficult but rewarding year.",
            "Police have asked drivers to take extra care near the school while the new crossing "
            "is being built.",
            "The bus company has confirmed that the number {num} route will be diverted for the "
            "duration of the works.",
            "Anyone with questions about the [plan|works] can contact the council offices, which "
            "are open every weekday morning.",
            "The next meeting of the council is scheduled for the first {weekday} of {month}, and "
            "members of the public are welcome.",
            "Many residents said they were simply glad to see the town discussing its future in "
            "the open.",
        ],
    },
    "software": {
        "titles": [
            "Lessons from [migrating|moving] a [small|ten year old] service to a new database",
            "How we [cut|reduced] our build times by [half|two thirds]",
            "Writing [tests|documentation] that people actually [read|maintain]",
            "[Why|How] our team [stopped|started] doing code reviews on Fridays",
            "A [practical|gentle] introduction to [caching|logging|feature flags]",
        ],
        "sentences": [
            "Our [service|application] had been running on the same [database|server] since "
            "{year}, and nobody on the current team had set it up.",
            "The first step was simply to write down what the system actually did, which took "
            "[longer|far longer] than any of us expected.",
            "We found {num} scheduled jobs that nobody remembered, and two of them had been "
            "failing quietly for months.",
            "{person}, who leads the [platform|infrastructure] team at {org}, suggested that we "
            "[move|migrate] one table at a time rather than everything at once.",
            "That decision made the project slower on paper, but it meant that every step could "
            "be tested and, if necessary, undone.",
            "Good logging turned out to be more valuable than any clever tool, because it told us "
            "what the system was doing in production.",
            "We [added|introduced] a simple dashboard that showed the number of requests, the "
            "error rate and the slowest queries of the day.",
            "Within a week the dashboard had [revealed|shown] a query that was responsible for "
            "almost {pct} percent of the load.",
            "Fixing it took a single line, but finding it would have been impossible without the "
            "measurements.",
            "Our build used to take more than {num} minutes, which meant that developers often "
            "started a build and then went to make coffee.",
            "Most of that time was spent downloading the same dependencies again and again, so we "
            "added a shared cache.",
            "We also split the slowest tests into smaller groups that could run in parallel on "
            "separate machines.",
            "The result was a build that finished in a few minutes, and a team that was "
            "noticeably happier.",
            "Tests are most useful when their names describe a behaviour, so that a failure "
            "explains itself without anyone opening the file.",
            "[Documentation|A design note] does not need to be long, but it does need to say why "
            "a decision was made.",
            "Code review works best when changes are small, because a reviewer can only hold so "
            "much in their head at once.",
            "We agreed to avoid merging large changes late on a Friday, simply because nobody "
            "wants to debug a release over the weekend.",
            "[Feature flags|Configuration switches] let us ship code that was not yet switched "
            "on, and turn it on for a few users first.",
            "When something went wrong, we could switch the feature off in seconds instead of "
            "rolling back the whole release.",
            "{surname} points out that every flag is also a small debt, and that old flags should "
            "be removed as soon as a feature is stable.",
            "Looking back, the migration was less about technology and more about patience, "
            "communication and careful notes.",
            "If we started again, we would write the inventory of jobs and queries first, before "
            "changing a single line of code.",
        ],
    },
    "history": {
        "titles": [
            "The forgotten [mill|bridge|canal] of {city}",
            "How {city} [rebuilt|recovered] after the great [flood|fire] of {year}",
            "Letters from a [ferryman|teacher|shopkeeper]: life in {city} a century ago",
            "The [lighthouse|station|market hall] that gave {city} its name",
            "[Old|Early] maps of {city} and what they reveal",
        ],
        "sentences": [
            "The [mill|bridge|canal] was built in {year} by a group of local merchants who wanted "
            "a faster way to bring grain to the market in {city}.",
            "For almost a century it was the busiest place in the valley, and the town grew up "
            "around it.",
            "Records kept in the parish [archive|registers] show that more than {num} families "
            "depended on it for their living.",
            "The great [flood|fire] destroyed much of the old town in a single night, and many "
            "families lost everything they owned.",
            "In the weeks that followed, neighbours shared food and shelter, and the town hall "
            "was turned into a temporary hospital.",
            "Rebuilding took more than ten years, and the new streets were laid out wider and "
            "straighter than the old ones.",
            "A local [teacher|clerk], {person}, kept a diary and wrote letters throughout those "
            "years, and it remains one of the best sources we have.",
            "The [letters|diaries] describe ordinary days in careful detail: the price of bread, "
            "the weather, the arrival of a new doctor.",
            "The railway reached {city} in the following decade and changed the town more than "
            "any flood ever had.",
            "Goods that had once travelled by [river|road] for days could now reach the capital "
            "in a few hours.",
            "Old maps show a cluster of [workshops|warehouses] near the water that has since "
            "disappeared entirely.",
            "Today the site is a quiet park, and only a few stones in the grass hint at what once "
            "stood there.",
            "Historians disagree about why the [mill|canal] was finally abandoned, and the "
            "surviving records do not settle the question.",
            "Some argue that the new railway simply made it unnecessary, while others point to a "
            "long dispute over water rights.",
            "The local museum holds a small collection of tools, photographs and account books "
            "from the period.",
            "Many of the photographs were donated by descendants of the workers, who found them "
            "in attics and drawers.",
            "{surname}, who volunteers at the museum, has spent years matching the faces in those "
            "photographs to names in the archive.",
            "It is slow work, but every identified face brings a forgotten life back into the "
            "town's story.",
            "Visitors often ask why such an important place was allowed to fall into ruin.",
            "The honest answer is that people at the time were too busy with the present to worry "
            "about preserving the past.",
            "A small plaque now marks the spot, and a guided walk passes it every {weekday} "
            "during the summer.",
            "The story of the town is, in the end, the story of ordinary people adapting to "
            "changes they could not control.",
        ],
    },
    "gardening": {
        "titles": [
            "Growing [tomatoes|beans|potatoes] in a small [garden|balcony|yard]",
            "What to plant in {month} for a [colourful|productive] summer",
            "A [beginner's|lazy] guide to [compost|mulch|seed saving]",
            "How the community garden in {city} [feeds|connects] its neighbours",
            "[Ten|Seven] years of [mistakes|lessons] in my [vegetable|herb] garden",
        ],
        "sentences": [
            "Most vegetables need at least six hours of direct sunlight a day, so the first job "
            "is to watch where the light falls.",
            "[Tomatoes|Beans|Courgettes] grow [well|happily] in large pots, as long as they are "
            "watered every evening in hot weather.",
            "A layer of mulch keeps the soil moist and stops many weeds before they have a chance "
            "to start.",
            "Compost does not need to be complicated, and a simple heap in a shady corner will "
            "turn kitchen scraps into rich soil within a year.",
            "Mix green material such as grass clippings with brown material such as dry leaves or "
            "torn cardboard.",
            "If the heap smells unpleasant, it usually needs more brown material and a little "
            "more air.",
            "The community garden in {city} started in {year} on a patch of land that had been "
            "empty for years.",
            "Today it has {num} [plots|beds], a shared tool shed and a waiting list that grows "
            "every spring.",
            "{person}, who coordinates the garden, says that the vegetables are almost less "
            "important than the conversations.",
            "Older members teach younger ones how to prune, and the children who visit are always "
            "keen to water everything in sight.",
            "Sow [peas|lettuce|radishes] in short rows every two weeks, so that you have a steady "
            "harvest rather than a sudden glut.",
            "Slugs are the most common complaint, and a few boards laid on the soil make it easy "
            "to collect them in the morning.",
            "Save seeds from your strongest plants, dry them on a plate and store them in paper "
            "envelopes in a cool drawer.",
            "Label everything, because in spring it is surprisingly difficult to remember what "
            "you planted in autumn.",
            "In {month} the garden is at its busiest, with beans climbing their poles and the "
            "first tomatoes beginning to colour.",
            "Water in the early morning or the evening, when less of it is lost to the heat of "
            "the sun.",
            "Bees and other insects will visit more often if you leave a corner of the garden a "
            "little wild.",
            "I made plenty of mistakes in my first years, from planting too close together to "
            "forgetting to water during holidays.",
            "The good news is that a garden forgives most mistakes, and every season offers "
            "another chance.",
            "{surname} recommends starting with a single bed and growing only what your family "
            "actually likes to eat.",
            "A cheap notebook, filled in each week, becomes the most useful gardening book you "
            "will ever own.",
            "By the end of the summer, even a small plot can produce more vegetables than one "
            "household can eat.",
        ],
    },
    "health": {
        "titles": [
            "Walking [every day|after dinner]: what changed after {num} weeks",
            "[Sleep|Rest], [screens|caffeine] and the [evening|morning] routine",
            "A physiotherapist's advice for people who sit all day",
            "The {city} [running|swimming] club welcomes [beginners|older members]",
            "How to start [exercising|stretching] again after a long break",
        ],
        "sentences": [
            "[Regular|Daily] walking is one of the simplest ways to improve fitness, and it needs "
            "no equipment beyond a comfortable pair of shoes.",
            "I started with a short walk after dinner and slowly built up to about {num} minutes "
            "a day.",
            "After a few weeks I noticed that I was sleeping better and that the stairs at work "
            "no longer left me out of breath.",
            "{person}, a physiotherapist in {city}, says that most patients simply need to move a "
            "little more often.",
            "Sitting for long periods is hard on the back, so the usual advice is to stand up and "
            "stretch at least once an hour.",
            "A few gentle exercises for the neck and shoulders can be done at a desk without "
            "anyone noticing.",
            "Sleep matters as much as exercise, and a regular bedtime is one of the easiest "
            "habits to change.",
            "Screens late in the evening make it harder for many people to fall asleep, so try "
            "reading a paper book instead.",
            "Coffee in the afternoon can also keep you awake, even if you do not feel its effect "
            "at the time.",
            "The running club in {city} meets on {weekday} evenings and welcomes runners of every "
            "pace.",
            "New members usually start with a group that alternates one minute of running with "
            "two minutes of walking.",
            "Within two months most of them can run for half an hour without stopping, which "
            "surprises them more than anyone.",
            "The club was founded in {year} by a handful of friends and now has more than {big} "
            "members.",
            "If you are returning to exercise after an injury or a long break, start slowly and "
            "increase the effort gradually.",
            "It is normal to feel a little stiff the next day, but sharp pain is a signal to stop "
            "and rest.",
            "Drinking enough water is important, especially on warm days and during longer "
            "sessions.",
            "A balanced meal with vegetables, grains and some protein will help the body recover "
            "after exercise.",
            "[Most|Many] people find it easier to stay active when they exercise with a friend or "
            "a group.",
            "{surname} keeps a simple diary of every walk, which makes progress visible on the "
            "days when motivation is low.",
            "Small, steady changes tend to last longer than dramatic plans that are abandoned "
            "after a week.",
            "Anyone with a heart condition or another health concern should talk to a doctor "
            "before starting a new routine.",
            "The best form of exercise is, in the end, the one you enjoy enough to keep doing.",
        ],
    },
    "finance": {
        "titles": [
            "How we [built|kept] a household budget that [works|lasts]",
            "[Saving|Planning] for [a house|retirement|university] on an ordinary income",
            "What the new [energy|water] prices mean for families in {city}",
            "[Five|Six] questions to ask before signing a [loan|rental contract]",
            "A small business owner in {city} on [cash flow|late payments]",
        ],
        "sentences": [
            "The first step in any budget is to write down what you actually spend for a month, "
            "without trying to change anything yet.",
            "Most people are surprised by how much goes on small purchases that they barely "
            "remember making.",
            "We divided our spending into fixed costs, such as rent and insurance, and flexible "
            "costs, such as food and travel.",
            "Setting aside even {num} percent of each salary, automatically on payday, made "
            "saving feel less like a decision.",
            "An emergency fund of three months of expenses gives a family room to breathe when "
            "something unexpected happens.",
            "{person}, a financial adviser in {city}, says the most common mistake is borrowing "
            "to pay for everyday costs.",
            "Before signing a loan, compare the total amount you will repay, not only the monthly "
            "payment.",
            "Read the whole contract, including the small print, and ask about any fee that is "
            "not clearly explained.",
            "The new energy prices will add around {num} euros a month to a typical household "
            "bill in {city}.",
            "Families can reduce the impact by lowering the thermostat by a degree and checking "
            "windows and doors for draughts.",
            "The council has set up an advice line for residents who are struggling to pay their "
            "bills.",
            "For small businesses, late payments can be more dangerous than low sales, because "
            "bills still arrive on time.",
            "{surname}, who runs a [printing|furniture|catering] business in {city}, now asks new "
            "customers for a deposit before starting work.",
            "The business now sends invoices on the same day a job is finished, rather than "
            "waiting until the end of the month.",
            "Keeping business and personal accounts separate makes tax time much easier and "
            "reduces costly mistakes.",
            "Interest rates have changed several times since {year}, and it is worth reviewing "
            "any savings account at least once a year.",
            "Pensions are easy to ignore when you are young, but small contributions made early "
            "grow for the longest time.",
            "Talking openly about money within a family can be uncomfortable, yet it prevents "
            "many misunderstandings later.",
            "Children who receive a small allowance learn quickly that money spent on one thing "
            "cannot be spent on another.",
            "There is no single right budget, only one that fits your income, your goals and your "
            "habits.",
            "Review the budget every few months, because life changes and a plan that worked last "
            "year may not work today.",
            "A simple spreadsheet is enough for most households, and there is no need to pay for "
            "complicated software.",
        ],
    },
    "sports": {
        "titles": [
            "{city} [United|Rovers|Athletic] [win|draw] a tense match at home",
            "The [women's|youth] team from {city} [reaches|wins] the regional final",
            "[Rowing|Cycling|Chess] club in {city} [celebrates|marks] its {num}th season",
            "Coach {person} on patience, practice and a difficult season",
            "Record crowd [watches|cheers] the {city} [marathon|cup final]",
        ],
        "sentences": [
            "The home side started [nervously|slowly] and fell behind after only {num} minutes, "
            "when a long ball caught the defence out of position.",
            "They [recovered|improved] after the break, and the equaliser came from a corner that "
            "was cleared only as far as the edge of the area.",
            "Coach {person} said after the match that the team had been brave and had kept its "
            "shape under pressure.",
            "More than {big} supporters filled the small ground, the largest crowd the club has "
            "seen in years.",
            "The youth team has now won {num} matches in a row, and several of its players have "
            "been invited to train with the first team.",
            "Training takes place on {weekday} and Thursday evenings, and new players are welcome "
            "to come along and try.",
            "The [rowing|cycling|chess] club was founded in {year} and has grown from a handful "
            "of members to more than a hundred.",
            "Its members range in age from twelve to over seventy, and many of them compete in "
            "regional events every summer.",
            "{surname} joined the club as a teenager and now coaches the beginners' group on "
            "Saturday mornings.",
            "The coaches agree that the most important skill for a young athlete is learning to "
            "enjoy training, not only winning.",
            "The season has not been easy, with injuries to three key players and a long run of "
            "away matches.",
            "Even so, the team sits in the top half of the table with several games still to play.",
            "The marathon route passes through the old town, along the river and back to the "
            "finish line in the central square.",
            "Thousands of people lined the streets to cheer the runners, many of them holding "
            "handmade signs.",
            "Volunteers handed out water at stations every few kilometres and helped tired "
            "runners across the final stretch.",
            "The winner finished in just over two hours and twenty minutes, a new record for the "
            "course.",
            "The local club raised money for a new [clubhouse|boathouse] by selling cakes and "
            "organising a summer fair.",
            "Parents take turns driving the youngest players to away matches, which can be more "
            "than an hour from {city}.",
            "The referee had a busy afternoon, showing {num} yellow cards in a match that was "
            "fair but very physical.",
            "Next week the team travels to play the league leaders, a match that many see as the "
            "key test of the season.",
            "Tickets for the final are expected to sell out quickly, and the club has asked "
            "supporters to buy them online.",
            "Whatever the result, the players have already given the town plenty to be proud of "
            "this year.",
        ],
    },
}

GENERIC_SENTENCES = [
    "It is worth remembering that none of this happened overnight.",
    "As with most things, the details matter more than the headline.",
    "There are, of course, other ways to look at the same question.",
    "Not everyone agrees, and the debate is likely to continue for some time.",
    "For many people in {city}, the change has already made a noticeable difference.",
    "The numbers are encouraging, but they should be read with some caution.",
    "What matters most is that the work continues, one small step at a time.",
    "We will return to this subject in a later article, when more information is available.",
    "If you have a story or a question about this topic, we would be glad to hear from you.",
    "In the end, the simplest explanation often turns out to be the right one.",
    "That may sound obvious, but it is surprisingly easy to forget in practice.",
    "Several readers have written to us with their own experiences, and we are grateful for every "
    "one of them.",
    "The coming months will show whether these early results hold up.",
    "It is a reminder that good ideas often come from unexpected places.",
    "Those who were there still talk about it years later.",
    "Much depends on the weather, the budget and the patience of everyone involved.",
    "It is not a perfect solution, but it is a practical one.",
    "The [lesson|conclusion] seems to be that small, careful changes add up over time.",
]

CONNECTIVES = [
    "Meanwhile,",
    "In {city},",
    "According to {surname},",
    "As it turns out,",
    "By all accounts,",
    "[Last|This] {month},",
    "For now,",
    "In practice,",
    "Even so,",
    "At the same time,",
    "Perhaps surprisingly,",
    "To be fair,",
    "On the whole,",
    "Since {year},",
]
_LOWERCASE_OPENERS = {"The", "A", "Most", "Many", "It", "This", "There", "We", "Our", "Some"}

CITIES = [
    "Riverton",
    "Ashcombe",
    "Marlowe Bay",
    "Kestrel Falls",
    "Dunmore",
    "Eastwick Harbour",
    "Fernhill",
    "Glenrock",
    "Halden",
    "Larkspur",
    "Millbrook",
    "Northgate",
    "Oakvale",
    "Port Avery",
    "Quarry Hill",
    "Saltmarsh",
    "Thornbury",
    "Upton Lees",
    "Westmere",
    "Yarrow",
]
FIRST_NAMES = [
    "Anna",
    "Ben",
    "Clara",
    "Daniel",
    "Elena",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Keira",
    "Liam",
    "Maya",
    "Nikolai",
    "Olivia",
    "Pavel",
    "Rosa",
    "Samir",
    "Tessa",
    "Victor",
]
SURNAMES = [
    "Adler",
    "Brennan",
    "Castellano",
    "Dimitrova",
    "Eriksen",
    "Fairweather",
    "Gallagher",
    "Hartmann",
    "Iqbal",
    "Jansen",
    "Kowalczyk",
    "Lindqvist",
    "Moreau",
    "Novak",
    "Okafor",
    "Petrakis",
    "Quinlan",
    "Rahman",
    "Sorensen",
    "Tamura",
    "Underwood",
    "Varga",
    "Whitlock",
]
ORGS = [
    "the Northgate Institute",
    "Fernhill University",
    "the Halden Field Station",
    "the Coastal Research Trust",
    "Oakvale College",
    "Lindqvist & Partners",
    "the Millbrook Foundation",
    "Quarry Hill Software",
]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]

# Invented sites: (domain, site name, topics it publishes, layout).
SITES: list[tuple[str, str, tuple[str, ...], str]] = [
    ("riverton-gazette.example", "The Riverton Gazette", ("local_news", "sports"), "news"),
    ("ashcombe-courier.example", "Ashcombe Courier", ("local_news", "history"), "news"),
    ("marlowe-bay-times.test", "Marlowe Bay Times", ("local_news", "sports", "finance"), "news"),
    ("kestrelfalls-weekly.example", "Kestrel Falls Weekly", ("local_news",), "legacy"),
    ("fieldnotes-science.example", "Field Notes", ("science",), "modern"),
    ("open-lab-journal.test", "Open Lab Journal", ("science", "health"), "modern"),
    ("stargazer-club.example", "Stargazer Club", ("science",), "blog"),
    ("slowkitchen.example", "The Slow Kitchen", ("cooking",), "blog"),
    ("breadandbeans.test", "Bread and Beans", ("cooking", "gardening"), "blog"),
    ("market-table.example", "Market Table", ("cooking", "travel"), "modern"),
    ("wander-notes.example", "Wander Notes", ("travel",), "blog"),
    ("coastal-trails.test", "Coastal Trails", ("travel", "health"), "modern"),
    ("old-harbour-guides.example", "Old Harbour Guides", ("travel", "history"), "legacy"),
    ("devlog-quarry.example", "Quarry Hill Dev Log", ("software",), "modern"),
    ("buildpipeline.test", "Build Pipeline", ("software",), "blog"),
    ("teamcraft-engineering.example", "Teamcraft Engineering", ("software",), "modern"),
    ("parish-archive.example", "Parish Archive Society", ("history",), "legacy"),
    ("valley-heritage.test", "Valley Heritage", ("history", "travel"), "news"),
    ("green-plot.example", "The Green Plot", ("gardening",), "blog"),
    ("allotment-diary.test", "Allotment Diary", ("gardening", "cooking"), "legacy"),
    ("steady-steps.example", "Steady Steps", ("health",), "modern"),
    ("clinic-notes.test", "Clinic Notes", ("health",), "news"),
    ("household-ledger.example", "Household Ledger", ("finance",), "modern"),
    ("smallbiz-corner.test", "Small Business Corner", ("finance",), "blog"),
    ("touchline-report.example", "Touchline Report", ("sports",), "news"),
    ("regatta-news.test", "Regatta News", ("sports", "local_news"), "legacy"),
    ("northgate-post.example", "Northgate Post", ("local_news", "finance", "science"), "news"),
    ("quiet-corners.example", "Quiet Corners", ("travel", "gardening"), "blog"),
    ("cheap-deals-hub.test", "Best Deals Hub", ("spam",), "modern"),
    ("top-links-directory.example", "Top Links Directory", ("links",), "legacy"),
]
FOREIGN_SITES: dict[str, tuple[str, str]] = {
    "fr": ("journal-du-port.example", "Le Journal du Port"),
    "de": ("dorfzeitung-tal.example", "Dorfzeitung im Tal"),
    "es": ("diario-del-valle.test", "Diario del Valle"),
    "zh": ("shanshui-notes.example", "山水笔记"),
    "ja": ("minato-nikki.test", "港の日記"),
    "ru": ("rechnoy-vestnik.example", "Речной вестник"),
}
BLOCKED_SITES = [
    ("xxx-porn-videos.example", "Adult Tube"),
    ("free-porn-xxx.test", "Free Tube"),
    ("hot-xxx-porn-cams.example", "Cam Site"),
]

# Short paragraphs in other languages, written for textmill (dropped by the English filter).
FOREIGN_SENTENCES: dict[str, list[str]] = {
    "fr": [
        "Le marché du samedi s'installe sur la place dès sept heures du matin.",
        "Les pêcheurs vendent leurs poissons directement depuis le quai, à des prix souvent plus "
        "bas qu'en ville.",
        "La mairie a annoncé la rénovation de la bibliothèque municipale pour l'année prochaine.",
        "Les habitants sont invités à donner leur avis lors d'une réunion publique jeudi soir.",
        "Le club de voile accueille les enfants tous les mercredis pendant les vacances scolaires.",
        "Une nouvelle boulangerie a ouvert ses portes dans la rue principale, et la file "
        "d'attente ne désemplit pas.",
        "Le sentier côtier a été rouvert après plusieurs semaines de travaux.",
        "Selon les organisateurs, la fête du village a attiré plus de visiteurs que l'an dernier.",
    ],
    "de": [
        "Der Wochenmarkt findet jeden Samstag auf dem Platz vor dem Rathaus statt.",
        "Die Gemeinde plant, die alte Brücke über den Fluss im nächsten Frühjahr zu sanieren.",
        "Viele Bürgerinnen und Bürger nahmen an der Versammlung am Donnerstagabend teil.",
        "Der Sportverein sucht neue Mitglieder für die Jugendmannschaft.",
        "Im Heimatmuseum ist eine Ausstellung über die Geschichte der Mühle zu sehen.",
        "Die Bäckerei an der Ecke backt ihr Brot noch immer nach einem Rezept aus dem vorigen "
        "Jahrhundert.",
        "Wegen Bauarbeiten bleibt die Hauptstraße bis Ende des Monats gesperrt.",
        "Das Wetter soll am Wochenende sonnig und mild werden.",
    ],
    "es": [
        "El mercado de los sábados ocupa la plaza mayor desde primera hora de la mañana.",
        "El ayuntamiento ha aprobado la reforma del antiguo edificio de la estación.",
        "Los vecinos podrán presentar sus propuestas hasta finales de mes.",
        "La biblioteca municipal amplía su horario durante el periodo de exámenes.",
        "El equipo juvenil del pueblo ganó el torneo regional el pasado domingo.",
        "Una pequeña librería del centro organiza lecturas para niños cada viernes por la tarde.",
        "Las obras en el puente terminarán antes del verano, según el alcalde.",
        "Muchos visitantes llegan en tren para recorrer el casco antiguo y probar la cocina local.",
    ],
    "zh": [
        "每到周末，河边的小市场总是挤满了来买新鲜蔬菜的居民。",
        "镇上的图书馆明年将进行翻修，工期预计为八个月。",
        "这家面馆已经开了三十多年，老板每天清晨五点就开始和面。",
        "沿着山路走一个小时，就能看到整个山谷的风景。",
        "学校的学生们利用课余时间在社区花园里种植蔬菜。",
        "当地的博物馆收藏了许多关于渔业和纺织的老照片。",
        "天气转凉以后，游客明显少了，小镇又恢复了往日的安静。",
        "居民们希望新修的公路能给村子带来更多的机会。",
    ],
    "ja": [
        "毎週土曜日の朝、港の近くで小さな市場が開かれます。",
        "町の図書館は来年の春に改装される予定です。",
        "この食堂は四十年以上、同じ家族によって営まれてきました。",
        "駅から歩いて十分ほどで、古い町並みが残る地区に着きます。",
        "地元の小学校では、子どもたちが畑で野菜を育てています。",
        "秋になると、山の紅葉を見に多くの人が訪れます。",
        "商店街の人々は、新しい橋の完成を楽しみにしています。",
        "夕方には漁船が港に戻り、市場はまた活気にあふれます。",
    ],
    "ru": [
        "По субботам на площади у реки работает небольшой рынок.",
        "Городская библиотека будет закрыта на ремонт до конца весны.",
        "Жители обсудили план строительства нового моста на открытом собрании.",
        "Местная школа отметила юбилей выставкой старых фотографий.",
        "В парке у набережной высадили больше ста молодых деревьев.",
        "Футбольная команда города выиграла областной турнир среди юношей.",
        "Старая пекарня на углу по-прежнему печёт хлеб по семейному рецепту.",
        "Туристы приезжают сюда летом, чтобы прогуляться вдоль реки и посмотреть на старые дома.",
    ],
}
FOREIGN_TITLES = {
    "fr": ["Nouvelles du village", "Le marché et le port", "Vie locale cette semaine"],
    "de": ["Nachrichten aus dem Ort", "Neues aus der Gemeinde", "Die Woche im Tal"],
    "es": ["Noticias del pueblo", "La semana en el valle", "Vida local"],
    "zh": ["小镇新闻", "山谷里的一周", "社区生活"],
    "ja": ["港町のたより", "今週の町の話題", "商店街のニュース"],
    "ru": ["Новости города", "Неделя у реки", "Местная жизнь"],
}

SPAM_KEYWORDS = [
    ("cheap flights", "flights"),
    ("best hotel deals", "hotels"),
    ("buy cheap watches", "watches"),
    ("discount sneakers", "sneakers"),
    ("payday loans online", "loans"),
    ("cheap car insurance", "insurance"),
    ("free phone case", "phone cases"),
]
LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt "
    "ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation "
    "ullamco laboris nisi ut aliquip ex ea commodo consequat."
)
SHORT_PAGES = [
    ("Page not found", ["Sorry, this page could not be found."]),
    ("Coming soon", ["Our new website is coming soon!"]),
    ("Thank you", ["Thanks for subscribing.", "Check your inbox."]),
    ("Log in", ["Username", "Password", "Forgot password?"]),
    ("Gallery", ["Photo 1", "Photo 2", "Photo 3"]),
    ("Contact", ["Call us today.", "Open Monday to Friday."]),
    ("Search results", ["No results found."]),
]
CODE_SNIPPETS = [
    (
        "javascript",
        "function debounce(fn, wait) {\n  let timer = null;\n  return (...args) => {\n"
        "    clearTimeout(timer);\n    timer = setTimeout(() => fn(...args), wait);\n  };\n}",
    ),
    ("json", '{\n  "cache": {\n    "enabled": true,\n    "max_age_seconds": 600\n  }\n}'),
    (
        "c",
        "int sum(const int *values, int n) {\n  int total = 0;\n"
        "  for (int i = 0; i < n; i++) {\n    total += values[i];\n  }\n  return total;\n}",
    ),
    (
        "go",
        "func retry(attempts int, f func() error) error {\n  var err error\n"
        "  for i := 0; i < attempts; i++ {\n    if err = f(); err == nil {\n"
        "      return nil\n    }\n  }\n  return err\n}",
    ),
]
# Public-looking addresses for the PII redactor, and private ones it must leave alone.
PUBLIC_IPS = ["84.17.42.115", "145.97.12.3", "62.210.33.48", "91.198.174.21", "151.101.65.67"]
PRIVATE_IPS = ["192.168.1.20", "10.0.0.14"]

# ---------------------------------------------------------------------------------------------
# Generator
# ---------------------------------------------------------------------------------------------

_ALTERNATIVES = re.compile(r"\[([^\[\]]*)\]")
_SLOT = re.compile(r"\{(\w+)\}")


@dataclass
class Page:
    """One crawled URL: what the server sent and what it really is (the manifest entry)."""

    url: str
    body: bytes
    content_type: str
    kind: str
    expect: str  # "keep", "drop" or "skip" (not a document: readers skip it)
    extra: dict[str, Any] = field(default_factory=dict)
    status: str = "200 OK"


class _Writer:
    """Random choices for one generation run; all randomness flows from one seeded Random."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.used_slugs: set[str] = set()

    def spin(self, template: str, slots: dict[str, str]) -> str:
        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == "num":
                return str(self.rng.randint(3, 40))
            if name == "pct":
                return str(self.rng.randint(5, 35))
            if name == "big":
                return f"{self.rng.randint(2, 40) * 50:,}"
            return slots[name]

        text = _ALTERNATIVES.sub(lambda m: self.rng.choice(m.group(1).split("|")), template)
        return _SLOT.sub(fill, text)

    def slots(self) -> dict[str, str]:
        first, surname = self.rng.choice(FIRST_NAMES), self.rng.choice(SURNAMES)
        return {
            "city": self.rng.choice(CITIES),
            "person": f"{first} {surname}",
            "surname": surname,
            "org": self.rng.choice(ORGS),
            "year": str(self.rng.randint(1890, 2019)),
            "month": self.rng.choice(MONTHS),
            "weekday": self.rng.choice(WEEKDAYS),
        }

    def article(
        self, topic: str, budget: int | None = None, avoid: frozenset[str] = frozenset()
    ) -> dict:
        """Title and paragraphs on one topic, sentences drawn without replacement.

        Most articles use about half of their topic's sentences, so two articles on one topic
        share few 5-grams and MinHash (threshold ~0.72) never mistakes them for duplicates.
        """
        bank = TOPICS[topic]
        slots = self.slots()
        pool = [t for t in bank["sentences"] if t not in avoid]
        pool += self.rng.sample(GENERIC_SENTENCES, 3)
        self.rng.shuffle(pool)
        if budget is None:
            long_read = self.rng.random() < 0.12
            budget = self.rng.randint(16, 21) if long_read else self.rng.randint(8, 13)
        templates = [pool.pop() for _ in range(budget)]
        sentences = [self.opener(self.spin(t, slots), slots) for t in templates]
        paragraphs: list[str] = []
        while sentences:
            take = min(len(sentences), self.rng.randint(2, 4))
            paragraphs.append(" ".join(sentences[:take]))
            sentences = sentences[take:]
        title = self.spin(self.rng.choice(bank["titles"]), slots)
        return {
            "title": title[0].upper() + title[1:],
            "paragraphs": paragraphs,
            "slots": slots,
            "templates": frozenset(templates),
        }

    def opener(self, sentence: str, slots: dict[str, str]) -> str:
        """Sometimes lead in with a connective, as writers do, which also varies the 5-grams."""
        first, _, rest = sentence.partition(" ")
        if first not in _LOWERCASE_OPENERS or self.rng.random() > 0.3:
            return sentence
        lead = self.spin(self.rng.choice(CONNECTIVES), slots)
        return f"{lead} {first.lower()} {rest}"

    def slug(self, title: str) -> str:
        """A URL path segment from a title, never handed out twice."""
        base = "-".join(re.sub(r"[^a-z0-9 ]", "", title.lower()).split()[:6]) or "page"
        slug, n = base, 1
        while slug in self.used_slugs:
            n += 1
            slug = f"{base}-{n}"
        self.used_slugs.add(slug)
        return slug


def _nav(site_name: str, topics: tuple[str, ...]) -> str:
    items = ["Home", *[t.replace("_", " ").title() for t in topics], "About", "Contact"]
    links = "".join(f'<li><a href="/{i.lower().replace(" ", "-")}/">{i}</a></li>' for i in items)
    return f'<nav class="main-nav" aria-label="{html.escape(site_name)}"><ul>{links}</ul></nav>'


_HEAD_SCRIPT = (
    "<script>window.dataLayer = window.dataLayer || [];"
    "function track(event) { window.dataLayer.push({event: event, ts: Date.now()}); }"
    "document.addEventListener('DOMContentLoaded', function () { track('view'); });</script>"
)
_HEAD_STYLE = (
    "<style>body { font-family: Georgia, serif; margin: 0 auto; max-width: 48rem; }"
    " .cookie-banner { position: fixed; bottom: 0; } nav ul { list-style: none; }</style>"
)
COOKIE_BANNER = (
    '<div class="cookie-banner" id="cookie-consent"><p>We use cookies to improve your experience '
    "and to show you relevant content. By continuing to browse you accept our cookie policy.</p>"
    '<button type="button">Accept cookies</button> <button type="button">Manage settings</button>'
    "</div>"
)
NOSCRIPT = (
    "<noscript><p>Please enable JavaScript in your browser to use all features.</p></noscript>"
)
SHARE_BUTTONS = (
    '<div class="share-buttons"><span>Share this:</span> <a href="#share-facebook">Facebook</a> '
    '<a href="#share-x">X</a> <a href="#share-mail">Email</a> <a href="#print">Print</a></div>'
)
NEWSLETTER = (
    '<div class="newsletter"><h3>Newsletter</h3><p>Get the best stories every week.</p>'
    '<form><input type="email" placeholder="Your email"><button>Subscribe</button></form></div>'
)
INLINE_JS_LINES = [
    "The interactive map below requires JavaScript to be enabled in your browser.",
    "Comments are loaded with JavaScript, so please enable it to join the discussion.",
]
INLINE_COOKIE_LINES = [
    "This website uses cookies to remember your preferences, as explained in our cookie policy.",
    "By reading on you agree to our terms of use and privacy policy.",
]


def _footer(site_name: str, year: int = 2024) -> str:
    return (
        f'<footer class="site-footer"><p>&copy; {year} {html.escape(site_name)}. '
        'All rights reserved.</p><ul><li><a href="/privacy/">Privacy Policy</a></li>'
        '<li><a href="/terms/">Terms of Use</a></li><li><a href="/cookies/">Cookie settings</a>'
        '</li><li><a href="/sitemap/">Sitemap</a></li></ul></footer>'
    )


def _related(w: _Writer, topic: str) -> str:
    titles = [w.spin(w.rng.choice(TOPICS[topic]["titles"]), w.slots()) for _ in range(4)]
    links = "".join(f'<li><a href="/{w.slug(t)}/">{html.escape(t)}</a></li>' for t in titles)
    return f'<aside class="related"><h3>Related stories</h3><ul>{links}</ul></aside>'


def render_page(
    w: _Writer,
    *,
    site: tuple[str, str, tuple[str, ...], str],
    title: str,
    body_html: str,
    byline: str | None,
    noise: list[str],
    lang: str = "en",
    charset: str = "utf-8",
    meta_charset: bool = True,
    layout: str | None = None,
) -> str:
    """Wrap a page body in one of four site layouts with the chosen boilerplate noise."""
    domain, site_name, topics, site_layout = site
    layout = layout or site_layout
    esc_title = html.escape(title)
    meta = f'<meta charset="{charset}">' if meta_charset else ""
    head = (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head>{meta}<title>{esc_title} | '
        f"{html.escape(site_name)}</title>"
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="description" content="{esc_title}">'
        f'<link rel="stylesheet" href="/static/site.css">{_HEAD_STYLE}{_HEAD_SCRIPT}</head>'
    )
    cookie = COOKIE_BANNER if "cookie_banner" in noise else ""
    nojs = NOSCRIPT if "js_notice" in noise else ""
    share = SHARE_BUTTONS if "share_buttons" in noise else ""
    newsletter = NEWSLETTER if "newsletter" in noise else ""
    topic = next((t for t in topics if t in TOPICS), "local_news")
    related = _related(w, topic) if "related_links" in noise else ""
    by = f'<p class="byline">{html.escape(byline)}</p>' if byline else ""
    nav = _nav(site_name, topics)
    footer = _footer(site_name)
    if layout == "news":
        body = (
            f'<body>{cookie}{nojs}<header class="masthead"><a class="logo" href="/">'
            f"{html.escape(site_name)}</a>{nav}</header>"
            f'<div class="breadcrumbs"><a href="/">Home</a> &rsaquo; <a href="/news/">News</a>'
            f'</div><main><article class="story"><h1>{esc_title}</h1>{by}'
            f'<section class="story-body">{body_html}</section>{share}</article>{related}</main>'
            f"{newsletter}{footer}</body></html>"
        )
    elif layout == "blog":
        body = (
            f'<body>{cookie}<div id="wrapper"><div id="header"><h2 class="site-title">'
            f"{html.escape(site_name)}</h2>{nav}</div>"
            f'<div id="content"><div class="post"><h1 class="entry-title">{esc_title}</h1>{by}'
            f'<div class="entry-content">{body_html}</div>{share}'
            f'<div class="comments">{nojs}<h3>Leave a reply</h3></div></div></div>'
            f'<div id="sidebar">{newsletter}{related}<h3>Archives</h3><ul>'
            f'<li><a href="/2024/02/">February 2024</a></li><li><a href="/2024/01/">January '
            f"2024</a></li></ul></div>{footer}</div></body></html>"
        )
    elif layout == "legacy":  # tables for the chrome only, as late-1990s sites were built
        body = (
            f'<body bgcolor="#ffffff">{cookie}{nojs}<table width="100%" cellpadding="4"><tr>'
            f'<td><font size="5"><b>{html.escape(site_name)}</b></font></td><td>{nav}</td></tr>'
            f'</table><center><div id="content" align="left"><h1>{esc_title}</h1>{by}'
            f"{body_html}{share}</div></center><hr>{related}{newsletter}"
            f'<table width="100%"><tr><td>{footer}</td></tr></table></body></html>'
        )
    else:  # modern
        body = (
            f'<body>{cookie}{nojs}<header><div class="brand">{html.escape(site_name)}</div>{nav}'
            f'</header><main id="main"><article><header><h1>{esc_title}</h1>{by}</header>'
            f'<div class="article-body">{body_html}</div>{share}</article>{related}</main>'
            f"{newsletter}{footer}</body></html>"
        )
    return head + body


def _paragraphs_html(paragraphs: list[str], subheads: dict[int, str] | None = None) -> str:
    parts = []
    for i, text in enumerate(paragraphs):
        if subheads and i in subheads:
            parts.append(f"<h2>{html.escape(subheads[i])}</h2>")
        parts.append(f"<p>{html.escape(text)}</p>")
    return "".join(parts)


def _byline(w: _Writer) -> str:
    day = w.rng.randint(1, 28)
    author = f"{w.rng.choice(FIRST_NAMES)} {w.rng.choice(SURNAMES)}"
    return f"By {author} | {w.rng.choice(MONTHS[:3])} {day}, 2024"  # before the crawl date


def _choose_noise(w: _Writer) -> list[str]:
    """Boilerplate around (and occasionally inside) an article, in fixed proportions."""
    noise = ["nav", "footer"]
    for name, share in (
        ("cookie_banner", 0.5),
        ("js_notice", 0.4),
        ("share_buttons", 0.6),
        ("newsletter", 0.3),
        ("related_links", 0.5),
        ("inline_js_line", 0.15),
        ("inline_cookie_line", 0.1),
    ):
        if w.rng.random() < share:
            noise.append(name)
    return noise


def _with_inline_noise(w: _Writer, paragraphs: list[str], noise: list[str]) -> list[str]:
    """Boilerplate lines inside the article body, which C4's line filter should remove."""
    out = list(paragraphs)
    if "inline_js_line" in noise:
        out.insert(w.rng.randint(1, len(out)), w.rng.choice(INLINE_JS_LINES))
    if "inline_cookie_line" in noise:
        out.append(w.rng.choice(INLINE_COOKIE_LINES))
    return out


def _url(domain: str, path: str, secure: bool = True) -> str:
    return f"{'https' if secure else 'http'}://{domain}/{path}"


def _html_page(url: str, text: str, kind: str, expect: str, charset: str = "utf-8", **extra):
    return Page(
        url=url,
        body=text.encode(charset),
        content_type=f"text/html; charset={charset}",
        kind=kind,
        expect=expect,
        extra={"charset": charset, **extra},
    )


def _tiny_png() -> bytes:
    """A valid 2x2 grey PNG, built by hand so the sample needs no image library."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x80\x80\x00\x80\x80", 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def build_pages(seed: int = SEED) -> list[Page]:
    """Every page of the sample, in crawl order, each with its ground-truth kind."""
    w = _Writer(seed)
    content_sites = [s for s in SITES if s[2][0] not in ("spam", "links")]
    articles: list[tuple[Page, dict, tuple, list[str], list[str]]] = []

    def make_article(i: int, *, pii: bool = False, charset: str = "utf-8") -> None:
        site = content_sites[i % len(content_sites)]
        topic = w.rng.choice(site[2])
        for _attempt in range(50):  # keep distinct articles well below MinHash's threshold
            art = w.article(topic)
            article_shingles = shingles(" ".join(art["paragraphs"]))
            if all(jaccard(article_shingles, o) < MAX_ARTICLE_SIMILARITY for o in seen[topic]):
                break
        seen.setdefault(topic, []).append(article_shingles)
        noise = _choose_noise(w)
        paragraphs = _with_inline_noise(w, art["paragraphs"], noise)
        extra: dict[str, Any] = {"topic": topic, "noise": noise}
        if pii:
            email = f"{art['slots']['surname'].lower()}@{site[0]}"
            ip = w.rng.choice(PUBLIC_IPS)
            private = w.rng.choice(PRIVATE_IPS)
            paragraphs.append(
                f"Readers who want a copy of the full notes can write to {email} and we will "
                f"send them by the end of the week. The archive server at {ip} is available "
                f"during office hours, and the office network uses {private} for the printer."
            )
            extra["pii"] = {"emails": [email], "public_ips": [ip], "private_ips": [private]}
        subheads = None
        if len(paragraphs) >= 4 and w.rng.random() < 0.4:
            subheads = {2: w.rng.choice(["Background", "What happens next", "A closer look"])}
        title = art["title"]
        if charset != "utf-8":
            paragraphs = [p.replace("'", "’") for p in paragraphs]  # curly, as old CMSs did
            paragraphs.append(
                "Afterwards we met at the café on the corner, where a coffee still costs "
                "only 2 € and the owner’s naïve painting of the harbour hangs above the till."
            )
            extra["charset_declared_in"] = "http_header_and_meta"
        body_html = _paragraphs_html(paragraphs, subheads)
        page_html = render_page(
            w,
            site=site,
            title=title,
            body_html=body_html,
            byline=_byline(w),
            noise=noise,
            charset=charset,
        )
        url = _url(site[0], f"{2024}/{w.rng.randint(1, 3):02d}/{w.slug(title)}/")
        page = _html_page(url, page_html, "article", "keep", charset=charset, **extra)
        articles.append((page, art, site, paragraphs, noise))

    seen: dict[str, list[set[str]]] = {t: [] for t in TOPICS}
    pii_ids = set(w.rng.sample(range(ARTICLE_COUNT), PII_ARTICLE_COUNT))
    legacy_id = next(i for i in range(ARTICLE_COUNT) if i not in pii_ids and i > 5)
    for i in range(ARTICLE_COUNT):
        make_article(i, pii=i in pii_ids, charset="windows-1252" if i == legacy_id else "utf-8")

    pages: list[Page] = [a[0] for a in articles]
    later: list[tuple[Page, Page]] = []  # (copy, original): copies are placed after originals
    plain = [a for a in articles if "pii" not in a[0].extra and a[0].extra["charset"] == "utf-8"]
    originals = w.rng.sample(plain, EXACT_DUP_ORIGINALS)
    # Near duplicates need enough text that a few edits leave 5-gram Jaccard well above 0.72.
    longer = [a for a in plain if a not in originals and len(" ".join(a[3]).split()) >= 220]
    originals += w.rng.sample(longer, NEAR_DUP_ORIGINALS)

    # Exact duplicates: byte-identical pages under other URLs (tracking parameters, a print
    # view, a scraper mirror), so they extract to identical text.
    for original, _art, _site, _paragraphs, _noise in originals[:EXACT_DUP_ORIGINALS]:
        domain, _, path = original.url.split("://", 1)[1].partition("/")
        mirror = f"mirror-{w.rng.randint(1, 9)}.copycat-news.test"
        copy_urls = [
            original.url + "?utm_source=newsletter&utm_medium=email",
            _url(domain, f"print/{path}"),
            _url(mirror, path, secure=False),
        ][: w.rng.randint(1, 3)]
        for url in copy_urls:
            copy = Page(
                url,
                original.body,
                original.content_type,
                f"exact_dup_of:{original.url}",
                "drop",
                {"charset": "utf-8", "drop_by": ["exact_dedup", "minhash_dedup"]},
            )
            later.append((copy, original))

    # Near duplicates: a few words changed, a paragraph added, or the same text re-published on
    # another site's template (the wrapper changes what the extractor keeps around the text).
    for original, art, site, paragraphs, _noise in originals[EXACT_DUP_ORIGINALS:]:
        for variant_no in range(w.rng.randint(1, 3)):
            variant = ("words_changed", "paragraph_added", "rewrapped")[variant_no]
            edited = list(paragraphs)
            if variant == "words_changed":
                edited = _change_words(w, edited, 3)
            if variant == "paragraph_added":
                added = w.article(original.extra["topic"], 2, art["templates"])["paragraphs"]
                edited.append(" ".join(added))
            target = site
            if variant == "rewrapped":
                target = w.rng.choice([s for s in content_sites if s[3] != site[3]])
            html_text = render_page(
                w,
                site=target,
                title=art["title"],
                body_html=_paragraphs_html(edited),
                byline=_byline(w),
                noise=_choose_noise(w),
            )
            url = _url(target[0], f"{2024}/04/{w.slug(art['title'])}-v{variant_no + 2}/")
            drop_by = (
                ["minhash_dedup"] if variant != "rewrapped" else ["exact_dedup", "minhash_dedup"]
            )
            copy = _html_page(
                url,
                html_text,
                f"near_dup_of:{original.url}",
                "drop",
                variant=variant,
                drop_by=drop_by,
            )
            later.append((copy, original))

    pages += _noise_pages(w)

    # Crawl order: shuffle, then slot every copy in somewhere after its original.
    w.rng.shuffle(pages)
    for copy, original in later:
        start = pages.index(original) + 1
        pages.insert(w.rng.randint(start, len(pages)), copy)
    urls = [p.url for p in pages]
    assert len(set(urls)) == len(urls), "every page needs its own URL"
    return pages


def _change_words(w: _Writer, paragraphs: list[str], count: int) -> list[str]:
    """Swap a few common words for near-synonyms, as a lightly edited reprint would."""
    swaps = [
        (" small ", " little "),
        (" large ", " big "),
        (" quickly ", " rapidly "),
        (" began ", " started "),
        (" more than ", " over "),
        (" about ", " around "),
        (" often ", " frequently "),
        (" simple ", " basic "),
        (" town ", " village "),
        (" said ", " stated "),
        (" new ", " fresh "),
        (" every ", " each "),
    ]
    text = "\n".join(paragraphs)
    changed = 0
    for old, new in w.rng.sample(swaps, len(swaps)):
        if changed >= count:
            break
        if old in text:
            text = text.replace(old, new, 1)
            changed += 1
    if changed < count:  # too few swappable words: edit a number instead
        text = re.sub(r"\b(\d+)\b", lambda m: str(int(m.group(1)) + 1), text, count=count)
    return text.split("\n")


# Short or list-like text trips several filters; which fires first depends on stage order.
_SHORT_TEXT_FILTERS = ["gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality"]


def shingles(text: str, n: int = 5) -> set[str]:
    """Word 5-grams after FineWeb's MinHash normalisation (lower case, no punctuation/digits)."""
    words = re.sub(r"[\d\W_]+", " ", text.lower()).split()
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _noise_pages(w: _Writer) -> list[Page]:
    """Pages the pipeline should drop, each labelled with the filter family meant to catch it."""
    pages: list[Page] = []
    content_sites = [s for s in SITES if s[2][0] not in ("spam", "links")]
    spam_site = next(s for s in SITES if s[2][0] == "spam")
    links_site = next(s for s in SITES if s[2][0] == "links")

    for i in range(SPAM_COUNT):
        phrase, thing = SPAM_KEYWORDS[i % len(SPAM_KEYWORDS)]
        city = w.rng.choice(CITIES)
        lines = [
            f"Best {phrase} in {city}. {phrase.capitalize()} {city} today.",
            f"Looking for {phrase}? We have the best {phrase} deals on {thing} in {city}.",
            f"{phrase.capitalize()} {phrase} {phrase} best price {thing} {thing} {thing}.",
            f"Click here for {phrase} in {city} and save big on {thing} now.",
        ]
        paragraphs = [w.rng.choice(lines) for _ in range(w.rng.randint(14, 24))]
        title = f"{phrase.title()} {city} | Best {phrase.title()} Deals"
        page_html = render_page(
            w,
            site=spam_site,
            title=title,
            body_html=_paragraphs_html(paragraphs),
            byline=None,
            noise=["nav", "footer"],
        )
        url = _url(spam_site[0], f"{w.slug(title)}-{i}.html", secure=False)
        pages.append(_html_page(url, page_html, "spam", "drop", drop_by=["gopher_repetition"]))

    for i in range(LINK_LIST_COUNT):
        topic = w.rng.choice(list(TOPICS))
        titles: list[str] = []
        while len(titles) < 30:  # distinct items: the list, not repetition, is the problem
            bank = TOPICS[w.rng.choice(list(TOPICS))]["titles"]
            title = w.spin(w.rng.choice(bank), w.slots())
            if title not in titles:
                titles.append(title)
        if i % 2 == 0:
            body_html = (
                "<p>Useful links:</p><ul>"
                + "".join(
                    f'<li><a href="https://{w.rng.choice(content_sites)[0]}/{w.slug(t)}/">'
                    f"{html.escape(t)}</a></li>"
                    for t in titles
                )
                + "</ul>"
            )
            variant = "link_directory"
        else:
            body_html = (
                "<ul>"
                + "".join(f"<li>{html.escape(t.split(':')[0][:40])}</li>" for t in titles)
                + "</ul>"
            )
            variant = "bullet_list"
        title = f"{topic.replace('_', ' ').title()} resources {i + 1}"
        page_html = render_page(
            w,
            site=links_site,
            title=title,
            body_html=body_html,
            byline=None,
            noise=["nav", "footer"],
        )
        url = _url(links_site[0], f"category/{topic}/page-{i + 1}.htm", secure=False)
        pages.append(
            _html_page(
                url,
                page_html,
                "link_list",
                "drop",
                variant=variant,
                drop_by=["extract", *_SHORT_TEXT_FILTERS],
            )
        )

    for i in range(SHORT_COUNT):
        site = w.rng.choice(content_sites)
        title, lines = SHORT_PAGES[i % len(SHORT_PAGES)]
        page_html = render_page(
            w,
            site=site,
            title=title,
            body_html="".join(f"<p>{x}</p>" for x in lines),
            byline=None,
            noise=["nav", "footer"],
        )
        url = _url(site[0], f"{title.lower().replace(' ', '-')}-{i}/")
        pages.append(
            _html_page(url, page_html, "short", "drop", drop_by=["extract", *_SHORT_TEXT_FILTERS])
        )

    for _ in range(LOREM_COUNT):
        site = w.rng.choice(content_sites)
        art = w.article(w.rng.choice(site[2]), budget=10)
        paragraphs = list(art["paragraphs"])
        paragraphs.insert(w.rng.randint(1, len(paragraphs)), LOREM)
        page_html = render_page(
            w,
            site=site,
            title=art["title"],
            body_html=_paragraphs_html(paragraphs),
            byline=None,
            noise=_choose_noise(w)[:4],
        )
        url = _url(site[0], f"drafts/{w.slug(art['title'])}/")
        pages.append(_html_page(url, page_html, "lorem", "drop", drop_by=["c4_quality"]))

    software_sites = [s for s in content_sites if "software" in s[2]]
    for i in range(CODE_COUNT):
        site = software_sites[i % len(software_sites)]
        art = w.article("software", budget=10)
        language, code = CODE_SNIPPETS[i % len(CODE_SNIPPETS)]
        inline = code.splitlines()[0]
        paragraphs = list(art["paragraphs"])
        paragraphs.insert(
            1,
            f"Here is the helper we ended up with, starting with {inline} "
            "and only a few lines long.",
        )
        body_html = (
            _paragraphs_html(paragraphs[:2])
            + (f'<pre><code class="language-{language}">{html.escape(code)}</code></pre>')
            + _paragraphs_html(paragraphs[2:])
        )
        page_html = render_page(
            w,
            site=site,
            title=art["title"],
            body_html=body_html,
            byline=_byline(w),
            noise=_choose_noise(w)[:4],
        )
        url = _url(site[0], f"posts/{w.slug(art['title'])}/")
        pages.append(_html_page(url, page_html, "code", "drop", drop_by=["c4_quality"]))

    for lang, (domain, site_name) in FOREIGN_SITES.items():
        site = (domain, site_name, ("local_news",), "news" if lang in "fr de es" else "blog")
        for i in range(PAGES_PER_LANGUAGE):
            pool = w.rng.sample(FOREIGN_SENTENCES[lang], len(FOREIGN_SENTENCES[lang]))
            sep = "" if lang in ("zh", "ja") else " "
            paragraphs = [sep.join(pool[k : k + 3]) for k in range(0, len(pool), 3)]
            title = FOREIGN_TITLES[lang][i % 3]
            legacy = lang == "ja" and i == 0
            charset = "shift_jis" if legacy else "utf-8"
            page_html = render_page(
                w,
                site=site,
                title=title,
                body_html=_paragraphs_html(paragraphs),
                byline=None,
                noise=["nav", "footer"],
                lang=lang,
                charset=charset,
            )
            url = _url(domain, f"actualites/{i + 1}/" if lang == "fr" else f"{lang}/{i + 1}.html")
            page = _html_page(
                url, page_html, f"non_english:{lang}", "drop", charset, drop_by=["langid"]
            )
            if legacy:  # declared only in the meta tag, as many old Japanese sites do
                page.content_type = "text/html"
                page.extra["charset_declared_in"] = "meta"
            pages.append(page)

    for i, (domain, site_name) in enumerate(BLOCKED_SITES[:BLOCKED_URL_COUNT]):
        site = (domain, site_name, ("local_news",), "modern")
        art = w.article("travel")
        page_html = render_page(
            w,
            site=site,
            title=art["title"],
            body_html=_paragraphs_html(art["paragraphs"]),
            byline=None,
            noise=["nav", "footer"],
        )
        url = _url(domain, f"videos/{i + 1}/")
        pages.append(_html_page(url, page_html, "blocked_url", "drop", drop_by=["url_filter"]))

    robots = "User-agent: *\nDisallow: /search/\nDisallow: /drafts/\n\nSitemap: /sitemap.xml\n"
    for domain in ("riverton-gazette.example", "slowkitchen.example"):
        pages.append(
            Page(
                _url(domain, "robots.txt"),
                robots.encode(),
                "text/plain",
                "non_html:text/plain",
                "skip",
            )
        )
    pages.append(
        Page(
            _url("fieldnotes-science.example", "static/logo.png"),
            _tiny_png(),
            "image/png",
            "non_html:image/png",
            "skip",
        )
    )
    return pages


# ---------------------------------------------------------------------------------------------
# WARC writing
# ---------------------------------------------------------------------------------------------


def _record_id(seed: int, n: int) -> str:
    digest = hashlib.sha1(f"textmill-sample:{seed}:{n}".encode()).digest()
    return f"<urn:uuid:{uuid.UUID(bytes=digest[:16], version=4)}>"


def _sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def _warc_date(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _http_date(when: dt.datetime) -> str:
    return when.strftime("%a, %d %b %Y %H:%M:%S GMT")


def _gzip_member(data: bytes) -> bytes:
    """One gzip member per record, as Common Crawl writes them; mtime 0 keeps bytes stable."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    return buffer.getvalue()


def _warc_record(headers: list[tuple[str, str]], block: bytes) -> bytes:
    lines = ["WARC/1.1", *(f"{k}: {v}" for k, v in headers), f"Content-Length: {len(block)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + block + b"\r\n\r\n"


def _ip_for(domain: str) -> str:
    """A documentation-range address (RFC 5737) per domain: no real server is named."""
    return f"198.51.100.{int(hashlib.sha1(domain.encode()).hexdigest(), 16) % 250 + 1}"


def build_warc(pages: list[Page], seed: int = SEED, filename: str = "sample.warc.gz"):
    """Serialise pages to WARC/1.1 bytes and the manifest that describes them."""
    counter = 0

    def next_id() -> str:
        nonlocal counter
        counter += 1
        return _record_id(seed, counter)

    when = CRAWL_START
    info_id = next_id()
    info_block = (
        "software: textmill.data.make_sample\r\n"
        "format: WARC File Format 1.1\r\n"
        "conformsTo: https://iipc.github.io/warc-specifications/specifications/"
        "warc-format/warc-1.1/\r\n"
        "isPartOf: textmill-sample\r\n"
        f"description: Synthetic crawl of invented sites, seed {seed}; see sample_manifest.json\r\n"
        "robots: ignore\r\n"
    ).encode()
    members = [
        _gzip_member(
            _warc_record(
                [
                    ("WARC-Type", "warcinfo"),
                    ("WARC-Date", _warc_date(when)),
                    ("WARC-Filename", filename),
                    ("WARC-Record-ID", info_id),
                    ("Content-Type", "application/warc-fields"),
                ],
                info_block,
            )
        )
    ]
    rng = random.Random(seed + 1)
    entries: list[dict[str, Any]] = []
    responses: dict[str, tuple[str, str, str]] = {}  # url -> (record id, date, payload digest)
    revisit_urls = set(
        rng.sample(
            [p.url for p in pages if p.kind == "article" and "?" not in p.url], REVISIT_COUNT
        )
    )
    revisits: list[Page] = []
    for page in pages:
        when += dt.timedelta(seconds=rng.randint(1, 90))
        members += _exchange(page, when, next_id, info_id, entries, responses, revisit=False)
        if page.url in revisit_urls:
            revisits.append(page)
    for page in revisits:  # a later recrawl found the same payload
        when += dt.timedelta(hours=6, seconds=rng.randint(1, 90))
        members += _exchange(page, when, next_id, info_id, entries, responses, revisit=True)
    counts: dict[str, int] = {"warcinfo": 1}
    for entry in entries:
        for record_type in ("request", entry["warc_type"]):
            counts[record_type] = counts.get(record_type, 0) + 1
    kinds: dict[str, int] = {}
    for entry in entries:
        base = entry["kind"].split(":")[0] if "dup_of" in entry["kind"] else entry["kind"]
        if base.startswith("revisit_of"):
            base = "revisit"
        kinds[base] = kinds.get(base, 0) + 1
    manifest = {
        "description": "Ground truth for sample.warc.gz, written by textmill.data.make_sample.",
        "seed": seed,
        "warc": filename,
        "warcinfo_record_id": info_id,
        "legend": {
            "kind": "what the page really is: article, exact_dup_of:<url>, near_dup_of:<url>, "
            "spam, link_list, short, lorem, code, non_english:<lang>, blocked_url, "
            "non_html:<mime>, revisit_of:<url>",
            "expect": "keep (FineWeb keeps it), drop (a filter or dedup removes it), skip (not "
            "a document: readers skip revisit and non-HTML records)",
            "drop_by": "the stages meant to remove it; the first of them in pipeline order wins",
            "noise": "boilerplate around the article; inline_* lines sit inside the text and "
            "are C4 line-filter targets",
            "pii": "strings in the text: emails and public_ips must be redacted, private_ips kept",
            "duplicates": "the first URL of a cluster is the original (kind article); "
            "FineWeb keeps one page per cluster",
        },
        "record_counts": dict(sorted(counts.items())),
        "kind_counts": dict(sorted(kinds.items())),
        "expect_counts": {
            e: sum(1 for x in entries if x["expect"] == e) for e in ("keep", "drop", "skip")
        },
        "pages": entries,
    }
    return b"".join(members), manifest


def _exchange(page, when, next_id, info_id, entries, responses, *, revisit: bool) -> list[bytes]:
    """A request record and its response (or revisit) record for one URL."""
    domain, _, path = page.url.split("://", 1)[1].partition("/")
    request_id, response_id = next_id(), next_id()
    request_block = (
        f"GET /{path} HTTP/1.1\r\nHost: {domain}\r\n"
        "User-Agent: textmill-sample-crawler/1.0 (+https://textmill.example/bot)\r\n"
        "Accept: text/html,application/xhtml+xml,*/*;q=0.8\r\nAccept-Encoding: identity\r\n\r\n"
    ).encode()
    http_headers = (
        f"HTTP/1.1 {page.status}\r\nDate: {_http_date(when)}\r\nServer: nginx\r\n"
        f"Content-Type: {page.content_type}\r\nContent-Length: {len(page.body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    payload_digest = _sha1_b32(page.body)
    common = [
        ("WARC-Date", _warc_date(when)),
        ("WARC-Target-URI", page.url),
        ("WARC-Warc-Info-ID", info_id),
        ("WARC-IP-Address", _ip_for(domain)),
    ]
    request = _warc_record(
        [
            ("WARC-Type", "request"),
            *common,
            ("WARC-Record-ID", request_id),
            ("WARC-Concurrent-To", response_id),
            ("WARC-Block-Digest", _sha1_b32(request_block)),
            ("Content-Type", "application/http; msgtype=request"),
        ],
        request_block,
    )
    if revisit:
        original_id, original_date, _ = responses[page.url]
        block = http_headers
        response = _warc_record(
            [
                ("WARC-Type", "revisit"),
                *common,
                ("WARC-Record-ID", response_id),
                (
                    "WARC-Profile",
                    "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest",
                ),
                ("WARC-Refers-To", original_id),
                ("WARC-Refers-To-Target-URI", page.url),
                ("WARC-Refers-To-Date", original_date),
                ("WARC-Payload-Digest", payload_digest),
                ("WARC-Block-Digest", _sha1_b32(block)),
                ("Content-Type", "application/http; msgtype=response"),
            ],
            block,
        )
        kind, expect, extra = f"revisit_of:{page.url}", "skip", {}
    else:
        block = http_headers + page.body
        mime = page.content_type.split(";")[0]
        response = _warc_record(
            [
                ("WARC-Type", "response"),
                *common,
                ("WARC-Record-ID", response_id),
                ("WARC-Concurrent-To", request_id),
                ("WARC-Payload-Digest", payload_digest),
                ("WARC-Block-Digest", _sha1_b32(block)),
                ("WARC-Identified-Payload-Type", mime),
                ("Content-Type", "application/http; msgtype=response"),
            ],
            block,
        )
        responses[page.url] = (response_id, _warc_date(when), payload_digest)
        kind, expect, extra = page.kind, page.expect, page.extra
    entries.append(
        {
            "url": page.url,
            "record_id": response_id,
            "request_record_id": request_id,
            "warc_type": "revisit" if revisit else "response",
            "content_type": page.content_type,
            "kind": kind,
            "expect": expect,
            **extra,
        }
    )
    return [_gzip_member(request), _gzip_member(response)]


def write_sample(warc_path: Path, manifest_path: Path | None = None, seed: int = SEED) -> dict:
    """Write the WARC and its manifest; returns the manifest."""
    warc_path = Path(warc_path)
    if manifest_path is None:
        stem = warc_path.name.removesuffix(".gz").removesuffix(".warc")
        manifest_path = warc_path.with_name(f"{stem}_manifest.json")
    warc_bytes, manifest = build_warc(build_pages(seed), seed, filename=warc_path.name)
    warc_path.write_bytes(warc_bytes)
    Path(manifest_path).write_text(manifest_json(manifest), encoding="utf-8")
    return manifest


def manifest_json(manifest: dict) -> str:
    """Pretty at the top, one line per page: small, and diffs read page by page."""
    head = {k: v for k, v in manifest.items() if k != "pages"}
    lines = [json.dumps(head, indent=1, ensure_ascii=False)[:-2] + ',\n "pages": [']
    pages = [json.dumps(p, ensure_ascii=False) for p in manifest["pages"]]
    return "\n".join(lines) + "\n  " + ",\n  ".join(pages) + "\n ]\n}\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_WARC_PATH)
    parser.add_argument(
        "--manifest", type=Path, default=None, help="default: <name>_manifest.json next to the WARC"
    )
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    manifest = write_sample(args.output, args.manifest, args.seed)
    size = args.output.stat().st_size
    print(f"wrote {args.output} ({size / 1e6:.2f} MB): {manifest['record_counts']}")
    print(f"kinds: {manifest['kind_counts']}")


if __name__ == "__main__":
    main()
