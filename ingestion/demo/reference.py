"""Fixed reference data for the demo source: plants, models, trims, places and names."""

from __future__ import annotations

# plant_id, code, name, country, opened_year, annual capacity, VIN plant letter
PLANTS = [
    (1, "CSB", "Castle Bromwich", "GB", 1938, 120_000, "B"),
    (2, "SOL", "Solihull", "GB", 1946, 300_000, "A"),
    (3, "HWD", "Halewood", "GB", 1963, 180_000, "H"),
    (4, "NTR", "Nitra", "SK", 2018, 150_000, "N"),
    (5, "CSU", "Changshu", "CN", 2014, 130_000, "C"),
    (6, "PNE", "Pune", "IN", 2011, 20_000, "P"),
    (7, "GRZ", "Graz", "AT", 2017, 60_000, "G"),
]

# model_id, brand, name, body style, launch year, electric, plant ids, VIN descriptor, weight
MODELS = [
    (1, "Jaguar", "F-PACE", "SUV", 2016, 0, (2,), "DA2BX", 9),
    (2, "Jaguar", "E-PACE", "SUV", 2017, 0, (7, 5), "DE2BN", 5),
    (3, "Jaguar", "I-PACE", "SUV", 2018, 1, (7,), "DJ2GA", 4),
    (4, "Jaguar", "XF", "Saloon", 2015, 0, (1, 5), "BB4BN", 4),
    (5, "Jaguar", "XE", "Saloon", 2015, 0, (1, 5), "AE2BN", 3),
    (6, "Jaguar", "F-TYPE", "Sports", 2013, 0, (1,), "CA5BE", 2),
    (7, "Range Rover", "Range Rover", "SUV", 2022, 0, (2,), "GA2AW", 12),
    (8, "Range Rover", "Range Rover Sport", "SUV", 2022, 0, (2,), "WA2BU", 14),
    (9, "Range Rover", "Range Rover Velar", "SUV", 2017, 0, (2,), "YA2BV", 8),
    (10, "Range Rover", "Range Rover Evoque", "SUV", 2019, 0, (3, 5, 6), "ZA2BN", 12),
    (11, "Defender", "Defender 90", "SUV", 2020, 0, (4,), "EP6EW", 5),
    (12, "Defender", "Defender 110", "SUV", 2020, 0, (4,), "EP7EW", 11),
    (13, "Defender", "Defender 130", "SUV", 2022, 0, (4,), "EP8EW", 4),
    (14, "Discovery", "Discovery", "SUV", 2017, 0, (4,), "RA2AW", 6),
    (15, "Discovery", "Discovery Sport", "SUV", 2019, 0, (3, 5), "CA2BN", 9),
]

# trim name, powertrain, engine cc (None for BEV), power kW, price factor
TRIMS = [
    ("S", "mhev", 1997, 184, 1.00),
    ("SE", "mhev", 2996, 221, 1.12),
    ("HSE", "phev", 2996, 324, 1.27),
    ("Autobiography", "petrol", 4395, 390, 1.55),
]
EV_TRIMS = [
    ("S", "bev", None, 294, 1.00),
    ("HSE", "bev", None, 294, 1.14),
    ("Black", "bev", None, 294, 1.22),
]
MODEL_BASE_PRICE_GBP = {
    1: 52_000,
    2: 38_000,
    3: 69_000,
    4: 43_000,
    5: 39_000,
    6: 74_000,
    7: 107_000,
    8: 83_000,
    9: 59_000,
    10: 44_000,
    11: 58_000,
    12: 61_000,
    13: 79_000,
    14: 62_000,
    15: 44_000,
}

# country -> (currency, rate from GBP, weight, regions with cities)
COUNTRIES = {
    "GB": (
        "GBP",
        1.0,
        30,
        {
            "England": ["London", "Manchester", "Birmingham", "Leeds", "Bristol"],
            "Scotland": ["Edinburgh", "Glasgow", "Aberdeen"],
            "Wales": ["Cardiff", "Swansea"],
        },
    ),
    "DE": (
        "EUR",
        1.17,
        12,
        {
            "Bayern": ["München", "Nürnberg"],
            "NRW": ["Köln", "Düsseldorf"],
            "Hessen": ["Frankfurt am Main"],
        },
    ),
    "FR": ("EUR", 1.17, 6, {"Île-de-France": ["Paris", "Versailles"], "Centre": ["Orléans"]}),
    "PL": ("PLN", 5.05, 4, {"Łódzkie": ["Łódź"], "Małopolskie": ["Kraków"]}),
    "SE": ("SEK", 13.4, 3, {"Västra Götaland": ["Göteborg"], "Skåne": ["Malmö"]}),
    "US": (
        "USD",
        1.27,
        18,
        {
            "New Jersey": ["Mahwah"],
            "California": ["Los Angeles", "San Diego"],
            "Texas": ["Austin", "Houston"],
        },
    ),
    "CN": ("CNY", 9.15, 14, {"上海": ["上海"], "北京": ["北京"], "广东": ["深圳", "广州"]}),
    "JP": ("JPY", 188.0, 5, {"関東": ["東京", "横浜"], "関西": ["大阪"]}),
    "IN": ("INR", 105.6, 4, {"Maharashtra": ["Mumbai", "Pune"], "Delhi": ["New Delhi"]}),
}

FIRST_NAMES = {
    "GB": ["Oliver", "Amelia", "Harry", "Isla", "George", "Ava", "Noah", "Sophie", "Zoë", "Siân"],
    "DE": ["Lukas", "Jürgen", "Mia", "Lena", "Björn", "Hannah", "Felix", "Käthe"],
    "FR": ["Léa", "Hugo", "Chloé", "Louis", "Anaïs", "Théo", "Manon"],
    "PL": ["Łukasz", "Zofia", "Wojciech", "Małgorzata", "Jakub", "Agnieszka"],
    "SE": ["Søren", "Åsa", "Björn", "Linnéa", "Erik", "Ingrid"],
    "US": ["James", "Emma", "Liam", "Olivia", "Mason", "Sofia", "José", "Chloe"],
    "CN": ["伟", "芳", "娜", "强", "敏", "静"],
    "JP": ["翔", "陽菜", "蓮", "結衣", "悠真"],
    "IN": ["Aarav", "Diya", "Vihaan", "Ananya", "Ishaan", "Saanvi"],
}
LAST_NAMES = {
    "GB": ["Smith", "Jones", "Taylor", "Brown", "Williams", "O'Brien", "Evans", "Davies"],
    "DE": ["Müller", "Schmidt", "Schneider", "Fischer", "Weiß", "Groß"],
    "FR": ["Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Girard"],
    "PL": ["Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kamiński"],
    "SE": ["Andersson", "Johansson", "Karlsson", "Nilsson", "Öberg"],
    "US": ["Johnson", "Garcia", "Miller", "Davis", "Rodríguez", "Martinez"],
    "CN": ["王", "李", "张", "刘", "陈"],
    # 𠮷 (U+20BB7) is a real surname character outside the BMP: 4 bytes in utf8mb4.
    "JP": ["佐藤", "鈴木", "高橋", "𠮷田", "田中"],
    "IN": ["Sharma", "Patel", "Singh", "Kumar", "Gupta"],
}
ASCII_NAMES = {
    "CN": ["wei", "fang", "na", "qiang", "min", "jing"],
    "JP": ["sho", "hina", "ren", "yui", "yuma"],
}
EMAIL_DOMAINS = ["example.com", "example.co.uk", "mail.example.org", "example.de", "example.cn"]
DEALER_BRANDS = ["Jaguar Land Rover", "JLR", "Land Rover", "Jaguar"]
COLOURS = [
    "Fuji White",
    "Santorini Black",
    "Eiger Grey",
    "Carpathian Grey",
    "Firenze Red",
    "Portofino Blue",
    "Pangea Green",
    "Gondwana Stone",
    "Hakuba Silver",
    "Belgravia Green",
]
OPTION_PACKS = [
    "Black Pack",
    "Bright Pack",
    "Extended Black Pack",
    "Off-Road Pack",
    "Cold Climate",
    "Towing Pack",
    "Signature Interior",
    "Adventure Pack",
]
OPTION_EXTRAS = [
    "Meridian Sound",
    "Pixel LED",
    "Head-up Display",
    "Panoramic Roof",
    "Air Suspension",
    "Heated Steering Wheel",
    "Wade Sensing",
    "ClearSight Mirror",
]
PART_CATEGORIES = {
    "engine": ("Ingenium", ["turbocharger", "fuel injector", "timing chain", "oil pump"]),
    "electrical": ("harness", ["alternator", "starter motor", "wiring loom", "fuse box"]),
    "body": ("panel", ["door mirror", "tailgate strut", "bonnet latch", "wheel arch liner"]),
    "suspension": ("air", ["air spring", "damper", "control arm", "anti-roll bar link"]),
    "infotainment": ("Pivi", ["touchscreen", "telematics unit", "camera module", "antenna"]),
    "battery": ("HV", ["12V battery", "HV battery module", "battery cooling pump", "BMS board"]),
    "brakes": ("Brembo", ["brake pads", "brake disc", "calliper", "ABS sensor"]),
}
FAILURES = [
    "intermittent fault reported by customer",
    "warning light on dashboard",
    "noise at low speed",
    "water ingress after rain",
    "software update failed",
    "component failed inspection",
    "fault code stored — component replaced",
    "client signale un bruit à froid",
    "Kunde meldet Geräusch beim Bremsen",
]
