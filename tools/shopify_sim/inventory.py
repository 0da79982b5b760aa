"""Locations and inventory: each variant's inventory item and its levels (one per location).

Seeded by `seed._seed_inventory` from the shop's `inventory_rng`. A level keeps its quantities
by Shopify's names in `_quantities` (`available`, `on_hand`); the other names Shopify knows read 0.
"""

from __future__ import annotations

from .models import JSON, ShopState, gid

QUANTITY_NAMES = (
    "available",
    "committed",
    "damaged",
    "incoming",
    "on_hand",
    "quality_control",
    "reserved",
    "safety_stock",
)


def normalize_gid(kind: str, reference: str) -> str:
    """A GID of `kind` from a GID or a bare number."""
    reference = reference.strip()
    if reference.startswith("gid://"):
        return reference
    return gid(kind, int(reference)) if reference.isdigit() else reference


def find_location(shop: ShopState, location_id: object) -> JSON | None:
    if location_id is None:
        return None
    wanted = normalize_gid("Location", str(location_id))
    return next((loc for loc in shop.locations if loc["id"] == wanted), None)


def inventory_item(shop: ShopState, variant_id: str) -> JSON | None:
    return shop.inventory_items.get(normalize_gid("ProductVariant", variant_id))


def level_at(item: JSON, location: JSON) -> JSON | None:
    return next((level for level in item["_levels"] if level["location"] is location), None)


def available(item: JSON) -> int:
    """What the variant has available over all locations (`ProductVariant.inventoryQuantity`)."""
    return sum(int(level["_quantities"]["available"]) for level in item["_levels"])


def quantities(level: JSON, names: list[str]) -> list[JSON]:
    """`InventoryLevel.quantities(names:)`; an unknown name is a ValueError (a GraphQL error)."""
    unknown = [name for name in names if name not in QUANTITY_NAMES]
    if unknown:
        raise ValueError(f"Invalid quantity names: {', '.join(unknown)}")
    return [{"name": name, "quantity": int(level["_quantities"].get(name, 0))} for name in names]


def restock(shop: ShopState, variant_id: str | None, location: JSON, quantity: int) -> None:
    """Returned units put back at `location`: `available` and `on_hand` grow by `quantity`."""
    item = None if variant_id is None else inventory_item(shop, variant_id)
    level = None if item is None else level_at(item, location)
    if level is None:
        return
    level["_quantities"]["available"] += quantity
    level["_quantities"]["on_hand"] += quantity


def set_available(level: JSON, value: int) -> None:
    """Set `available`; `on_hand` moves by the same difference (nothing is committed)."""
    delta = value - int(level["_quantities"]["available"])
    level["_quantities"]["available"] = value
    level["_quantities"]["on_hand"] = int(level["_quantities"]["on_hand"]) + delta


def public_location(location: JSON) -> JSON:
    return {"id": location["id"], "name": location["name"], "is_active": location["isActive"]}


def public_inventory(item: JSON) -> JSON:
    """A variant's stock as the control API shows it."""
    return {
        "variant_id": item["_variant_id"],
        "inventory_item_id": item["id"],
        "available": available(item),
        "levels": [
            {
                "id": level["id"],
                "location_id": level["location"]["id"],
                "location_name": level["location"]["name"],
                "available": int(level["_quantities"]["available"]),
                "on_hand": int(level["_quantities"]["on_hand"]),
            }
            for level in item["_levels"]
        ],
    }
