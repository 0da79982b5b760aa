"""Create every index declared on the Beanie models (`Settings.indexes` of DOCUMENT_MODELS).

Reading the declarations keeps this migration in step with the models; an index added to a
model later gets its own migration (`create_model_indexes(db, [Model], names={...})`).
"""

from __future__ import annotations

from app.migrations.indexes import Db, create_model_indexes, drop_model_indexes
from app.models import DOCUMENT_MODELS


async def up(db: Db) -> None:
    await create_model_indexes(db, DOCUMENT_MODELS)


async def down(db: Db) -> None:
    await drop_model_indexes(db, DOCUMENT_MODELS)
