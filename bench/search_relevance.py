"""The relevance check of bench/search.py: a fixed marketplace corpus and queries with the items
they should find (recall@10 and MRR per search mode).

The queries were written before any measurement and are not tuned to a model: most say what
they want in other words than the item does (synonyms, what it is for, what it looks like),
a few share its keywords, a few have typos. Titles are unique: expected results name them.
"""
from __future__ import annotations

from typing import NamedTuple


class Item(NamedTuple):
    title: str
    description: str
    category: str  # one of tests/integration/conftest.py's CATEGORIES
    tags: tuple[str, ...]


class Query(NamedTuple):
    q: str
    expected: tuple[str, ...]  # titles of the items that answer it (1-3)
    style: str  # "paraphrase" (other words), "keyword" (shares the item's words), "typo"


ITEMS: tuple[Item, ...] = (
    # textiles
    Item("Saffron Shore Blanket", "A heavy wool blanket dyed with saffron and woven by hand on a loom facing the "
         "Atlantic in Galicia. Warm yellow stripes with an undyed cream border.", "textile",
         ("wool", "blanket", "hand-woven")),
    Item("Indigo Shibori Table Runner", "Cotton table runner folded, bound and dipped in a natural indigo vat. Deep "
         "blue with pale rippling circles.", "textile", ("indigo", "shibori", "cotton")),
    Item("Alpine Felt Slippers", "Wet-felted merino slippers with leather soles, made in a mountain village in Tyrol. "
         "Charcoal grey with a red heel.", "textile", ("felt", "merino")),
    Item("Patchwork Memory Quilt", "A bed quilt pieced from thirty years of a family's worn shirts and dresses, "
         "hand-stitched in concentric squares.", "textile", ("quilt", "patchwork")),
    Item("Linen Tea Towels, Set of Three", "Stonewashed Baltic linen kitchen towels with a thin rust stripe. Soft, "
         "absorbent, and better with every wash.", "textile", ("linen", "kitchen")),
    Item("Macramé Plant Hanger", "Knotted from recycled cotton rope, holds a pot up to 20 cm across, with a fringe "
         "tail of about 40 cm.", "textile", ("macrame", "plants")),
    Item("Silk Scarf: Night Garden", "Hand-rolled silk twill scarf printed with moths and white flowers on a "
         "midnight background.", "textile", ("silk", "scarf")),
    Item("Berber Kilim Cushion Cover", "Flat-woven wool cushion cover in madder red and black diamonds, from a "
         "cooperative in the Middle Atlas.", "textile", ("kilim", "cushion", "wool")),
    Item("Tapestry of the Harbour at Dawn", "A wall tapestry in wool and linen showing fishing boats leaving port at "
         "first light, in pale pinks and greys.", "textile", ("tapestry", "wall-hanging")),
    Item("Hand-knitted Fisherman Sweater", "A cable-knit sweater in undyed Aran wool, dense and weatherproof. Size M.",
         "textile", ("knitwear", "wool")),
    # ceramics
    Item("Celadon Tea Bowl", "Wheel-thrown stoneware bowl with a pale green celadon glaze that pools darker in the "
         "foot ring. Fired in a wood kiln.", "craft", ("ceramics", "tea", "stoneware")),
    Item("Raku Moon Jar", "A round vessel fired in raku, its white crackle glaze smoked black in the fissures. About "
         "30 cm tall.", "sculpture", ("ceramics", "raku")),
    Item("Set of Six Speckled Dinner Plates", "Everyday plates in an oatmeal speckled glaze, dishwasher safe, 27 cm "
         "across.", "craft", ("ceramics", "tableware")),
    Item("Porcelain Bud Vases", "Three thin-walled porcelain vases for a single stem each, translucent when held to "
         "the light.", "craft", ("porcelain", "vase")),
    Item("Terracotta Herb Planter", "An unglazed terracotta pot with a drainage saucer, stamped with a leaf pattern, "
         "for a windowsill.", "craft", ("terracotta", "garden")),
    Item("Salt-glazed Beer Stein", "A tall grey salt-glazed mug with an orange-peel surface and a pulled handle. "
         "Holds half a litre.", "craft", ("stoneware", "mug")),
    Item("Kintsugi Repaired Bowl", "An old rice bowl, broken and mended with lacquer and gold powder along its "
         "cracks.", "craft", ("kintsugi", "gold")),
    Item("Ceramic Wall Tiles, Ocean Blues", "Twelve hand-painted tiles of cobalt and turquoise waves, for a kitchen "
         "splashback.", "craft", ("tiles", "cobalt")),
    # photographs
    Item("Fog over Lisbon Rooftops", "A black-and-white silver gelatin print of the Alfama district swallowed by "
         "morning fog.", "photography", ("black-and-white", "city")),
    Item("Icelandic Glacier Lagoon", "A large colour print of icebergs drifting in Jökulsárlón under a low winter "
         "sun.", "photography", ("landscape", "ice")),
    Item("Portrait of a Fishmonger", "An environmental portrait of an old fishmonger at the Naples market, shot on "
         "medium-format film.", "photography", ("portrait", "film")),
    Item("Night Market Neon, Taipei", "A long exposure of a crowded night market, the stalls' neon signs smeared into "
         "ribbons of pink and green.", "photography", ("night", "street")),
    Item("Desert Dunes at Noon", "A minimalist colour photograph of sand ridges in the Namib, hard shadows and an "
         "empty sky.", "photography", ("desert", "minimalism")),
    Item("Hummingbird in Flight", "A high-speed flash photograph of a hummingbird frozen mid-wingbeat at a red "
         "feeder.", "photography", ("wildlife", "birds")),
    Item("Abandoned Cinema Interior", "A colour print of a derelict 1930s picture house, its velvet seats collapsing "
         "under a fallen ceiling.", "photography", ("urban-exploration", "architecture")),
    Item("Cyanotype Ferns", "Fern leaves laid on sensitised paper and exposed to the sun, printed white on Prussian "
         "blue.", "photography", ("cyanotype", "botanical")),
    # paintings
    Item("Sunflowers After Rain", "Oil on canvas: a field of drooping sunflowers under a bruised purple sky, in thick "
         "impasto.", "painting", ("oil", "landscape")),
    Item("Portrait of My Grandmother", "A small oil portrait of an elderly woman in a blue headscarf, painted from "
         "life over three sittings.", "painting", ("oil", "portrait")),
    Item("Watercolour Venice Canal", "A loose watercolour of a narrow canal with laundry lines and a gondola, on "
         "cold-pressed paper.", "painting", ("watercolour", "city")),
    Item("Abstract Composition in Red and Black", "Acrylic on board: large gestural strokes of vermilion cut by black "
         "bars.", "painting", ("abstract", "acrylic")),
    Item("Still Life with Lemons and Copper Pot", "A classical still life in oil: lemons, a dented copper pot and a "
         "linen cloth on a dark table.", "painting", ("still-life", "oil")),
    Item("Storm over the North Sea", "A seascape in oil, a small trawler climbing a grey-green wave under heavy "
         "cloud.", "painting", ("seascape", "oil")),
    Item("Ink Bamboo Scroll", "Sumi ink on rice paper, a few stalks of bamboo bending in the wind, mounted as a "
         "hanging scroll.", "painting", ("ink", "japanese")),
    Item("Gouache Botanical Study: Peonies", "A detailed gouache of pink peonies with their buds and leaves, in the "
         "style of a scientific illustration.", "painting", ("gouache", "botanical", "flowers")),
    Item("Nocturne, Empty Petrol Station", "An acrylic painting of a lit petrol station at night on an empty highway, "
         "lonely and cinematic.", "painting", ("acrylic", "night")),
    # sculptures
    Item("Bronze Hare", "A lost-wax cast bronze of a hare sitting upright, ears alert, with a dark brown patina. "
         "25 cm.", "sculpture", ("bronze", "animal")),
    Item("Driftwood Heron", "A standing heron assembled from sea-worn driftwood collected on the Cornish coast.",
         "sculpture", ("driftwood", "birds")),
    Item("Marble Torso", "A Carrara marble female torso, carved by hand and polished, on a slate base.", "sculpture",
         ("marble", "figurative")),
    Item("Kinetic Mobile: Swallows", "Brass and painted steel birds that turn slowly in the air of a room, hung from "
         "one thread.", "sculpture", ("mobile", "kinetic")),
    Item("Welded Scrap Metal Bull", "A charging bull welded from car parts, chains and old tools, with a rust finish.",
         "sculpture", ("steel", "recycled")),
    Item("Limewood Carved Owl", "A small owl carved with a knife from a single block of limewood, left unpainted.",
         "sculpture", ("wood-carving", "owl")),
    Item("Concrete Brutalist Candle Holders", "Cast concrete candle holders shaped like miniature tower blocks.",
         "sculpture", ("concrete", "candles")),
    # music and sound
    Item("Field Recordings: Rainforest at Dusk", "A 40-minute recording of the Borneo rainforest as night falls: "
         "cicadas, frogs, distant rain. Lossless download.", "sound", ("field-recording", "nature")),
    Item("Handmade Kalimba", "A thumb piano with 17 steel tines on a walnut resonator box, tuned to C major.", "sound",
         ("instrument", "kalimba")),
    Item("Ambient Album: Slow Tides", "Eight long drone pieces for synthesiser and processed cello, for sleep or "
         "focus.", "sound", ("ambient", "album")),
    Item("Ceramic Ocarina", "A twelve-hole ocarina in glazed clay, tuned in A, with a fingering chart.", "sound",
         ("instrument", "ocarina")),
    Item("Vinyl: Lisbon Fado Sessions", "A 12-inch record of fado songs recorded live in a small tavern, guitar and "
         "voice.", "sound", ("vinyl", "fado")),
    Item("Sample Pack: Analog Drums", "Three hundred one-shot drum samples from vintage drum machines, recorded "
         "through tape. WAV files.", "sound", ("samples", "drums")),
    Item("Tibetan Singing Bowl", "A hand-hammered bronze singing bowl with a wooden striker and a long, warm "
         "resonance.", "sound", ("singing-bowl", "meditation")),
    # digital art
    Item("Generative Flow Field No. 7", "A plotter-ready generative artwork of thousands of curved lines following a "
         "noise field, delivered as SVG.", "digital-art", ("generative", "svg")),
    Item("Pixel Art City at Night", "A 4K pixel-art illustration of a rainy cyberpunk street with glowing shop "
         "signs.", "digital-art", ("pixel-art", "cyberpunk")),
    Item("3D Render: Floating Islands", "A dreamy 3D scene of grassy islands hovering over clouds, waterfalls "
         "spilling into the void.", "digital-art", ("3d", "fantasy")),
    Item("Vector Icon Set: Garden Tools", "Sixty line icons of spades, rakes and watering cans, as editable SVG and "
         "PNG.", "digital-art", ("icons", "vector")),
    Item("Animated Loop: Koi Pond", "A seamless 10-second animation of koi circling under lily pads, as MP4 and GIF.",
         "digital-art", ("animation", "loop")),
    Item("Procreate Brush Pack: Watercolour Textures", "Forty brushes that imitate wet paper blooms and pigment "
         "granulation, for Procreate.", "digital-art", ("brushes", "procreate")),
    Item("Glitch Portrait Series", "Digital portraits corrupted by datamoshing, faces split into shifted colour "
         "bands.", "digital-art", ("glitch", "portrait")),
    Item("Printable Star Map", "A custom map of the night sky over any city on any date, a high-resolution PDF to "
         "print at home.", "digital-art", ("printable", "astronomy")),
    # jewellery and craft
    Item("Sterling Silver Wave Ring", "A hammered silver band shaped like a breaking wave, sizes 5 to 10.", "craft",
         ("jewellery", "silver", "ring")),
    Item("Sea Glass Pendant", "Frosted green sea glass found on a Scottish beach, wire-wrapped in copper on a leather "
         "cord.", "craft", ("jewellery", "necklace")),
    Item("Enamel Bird Brooch", "A small vitreous enamel brooch of a blue tit, fired on copper, with a silver pin.",
         "craft", ("jewellery", "enamel", "birds")),
    Item("Leather Bound Journal", "A hand-stitched notebook with a tan goatskin cover and 200 pages of cotton paper.",
         "craft", ("leather", "bookbinding")),
    Item("Beeswax Taper Candles", "Pairs of hand-dipped pure beeswax candles that smell faintly of honey and burn for "
         "eight hours.", "craft", ("candles", "beeswax")),
    Item("Willow Harvest Basket", "A sturdy basket woven from locally grown willow rods, with a bent handle, for "
         "apples or firewood.", "craft", ("basketry", "willow")),
    Item("Gold Leaf Earrings", "Tiny ginkgo leaves cast in recycled 18k gold, on hook fasteners.", "craft",
         ("jewellery", "gold", "earrings")),
    Item("Hand-forged Chef's Knife", "A carbon steel kitchen knife forged by a blacksmith, with a walnut handle and a "
         "hammered finish.", "craft", ("blacksmith", "knife")),
    Item("Stained Glass Sun Catcher", "A leaded glass roundel in amber and cobalt to hang in a sunny window.", "craft",
         ("stained-glass",)),
)

QUERIES: tuple[Query, ...] = (
    # other words than the items'
    Query("warm ochre textile from the coast", ("Saffron Shore Blanket",), "paraphrase"),
    Query("something cosy to throw over the sofa in winter", ("Saffron Shore Blanket", "Patchwork Memory Quilt"),
          "paraphrase"),
    Query("blue tie-dye cloth for the dining table", ("Indigo Shibori Table Runner",), "paraphrase"),
    Query("cosy indoor footwear made of wool", ("Alpine Felt Slippers",), "paraphrase"),
    Query("bedspread sewn from old family clothes", ("Patchwork Memory Quilt",), "paraphrase"),
    Query("thick jumper for sailors", ("Hand-knitted Fisherman Sweater",), "paraphrase"),
    Query("rug-like pillow case from Morocco", ("Berber Kilim Cushion Cover",), "paraphrase"),
    Query("green glazed cup for matcha", ("Celadon Tea Bowl",), "paraphrase"),
    Query("crockery for everyday meals", ("Set of Six Speckled Dinner Plates",), "paraphrase"),
    Query("flower pot for growing basil in the kitchen", ("Terracotta Herb Planter",), "paraphrase"),
    Query("blue and turquoise tiles for behind the sink", ("Ceramic Wall Tiles, Ocean Blues",), "paraphrase"),
    Query("monochrome photo of a misty city", ("Fog over Lisbon Rooftops",), "paraphrase"),
    Query("decaying old movie theatre", ("Abandoned Cinema Interior",), "paraphrase"),
    Query("bird photographed mid-flight", ("Hummingbird in Flight",), "paraphrase"),
    Query("sun-printed plant leaves on blue paper", ("Cyanotype Ferns",), "paraphrase"),
    Query("yellow flowers painted in oils", ("Sunflowers After Rain",), "paraphrase"),
    Query("painting of a ship in rough weather", ("Storm over the North Sea",), "paraphrase"),
    Query("fruit and kitchenware painted on a dark background", ("Still Life with Lemons and Copper Pot",),
          "paraphrase"),
    Query("Japanese brush painting", ("Ink Bamboo Scroll",), "paraphrase"),
    Query("lonely night scene like an Edward Hopper picture", ("Nocturne, Empty Petrol Station",), "paraphrase"),
    Query("metal rabbit statue", ("Bronze Hare",), "paraphrase"),
    Query("bird sculptures", ("Driftwood Heron", "Kinetic Mobile: Swallows", "Limewood Carved Owl"), "paraphrase"),
    Query("hanging decoration that moves in the breeze", ("Kinetic Mobile: Swallows",), "paraphrase"),
    Query("animal made of recycled car parts", ("Welded Scrap Metal Bull",), "paraphrase"),
    Query("nature sounds of the jungle at night", ("Field Recordings: Rainforest at Dusk",), "paraphrase"),
    Query("musical instrument you play with your thumbs", ("Handmade Kalimba",), "paraphrase"),
    Query("relaxing sounds for meditation", ("Tibetan Singing Bowl", "Ambient Album: Slow Tides"), "paraphrase"),
    Query("Portuguese folk music record", ("Vinyl: Lisbon Fado Sessions",), "paraphrase"),
    Query("beats for music producers", ("Sample Pack: Analog Drums",), "paraphrase"),
    Query("retro video game style illustration", ("Pixel Art City at Night",), "paraphrase"),
    Query("art made by an algorithm", ("Generative Flow Field No. 7",), "paraphrase"),
    Query("fish swimming animation", ("Animated Loop: Koi Pond",), "paraphrase"),
    Query("gift showing the constellations on our wedding night", ("Printable Star Map",), "paraphrase"),
    Query("necklace with beach glass", ("Sea Glass Pendant",), "paraphrase"),
    Query("handmade notebook", ("Leather Bound Journal",), "paraphrase"),
    Query("a cook's blade made by a smith", ("Hand-forged Chef's Knife",), "paraphrase"),
    Query("colourful window glass decoration", ("Stained Glass Sun Catcher",), "paraphrase"),
    Query("things from Lisbon", ("Fog over Lisbon Rooftops", "Vinyl: Lisbon Fado Sessions"), "paraphrase"),
    # the items' own words
    Query("silver ring inspired by the sea", ("Sterling Silver Wave Ring",), "keyword"),
    Query("natural candles that smell of honey", ("Beeswax Taper Candles",), "keyword"),
    Query("bowl repaired with gold", ("Kintsugi Repaired Bowl",), "keyword"),
    Query("icebergs", ("Icelandic Glacier Lagoon",), "keyword"),
    Query("gold earrings", ("Gold Leaf Earrings",), "keyword"),
    Query("willow basket", ("Willow Harvest Basket",), "keyword"),
    # typos
    Query("indgo table runer", ("Indigo Shibori Table Runner",), "typo"),
    Query("bronse hare sculpure", ("Bronze Hare",), "typo"),
    Query("kalimbba", ("Handmade Kalimba",), "typo"),
    Query("watercolor venise canal", ("Watercolour Venice Canal",), "typo"),
    Query("porcelian vases", ("Porcelain Bud Vases",), "typo"),
)


def _check() -> None:
    titles = [item.title for item in ITEMS]
    assert len(set(titles)) == len(titles), "titles must be unique"
    for query in QUERIES:
        assert 1 <= len(query.expected) <= 3 and set(query.expected) <= set(titles), query


_check()
