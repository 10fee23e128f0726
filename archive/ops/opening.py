"""Opening an archive: migrate a new store, check the recorded model against the one asked for."""

from __future__ import annotations

from archive.config import Settings
from archive.embedding.base import Embedder
from archive.embedding.loader import load_embedder, same_model, spec_for
from archive.errors import ModelMismatchError, NotAnArchiveError
from archive.store import migrate
from archive.store.interface import Store
from archive.store.records import ModelRecord


def prepare_store(
    settings: Settings, store: Store, embedder: Embedder | None, create: bool
) -> tuple[Embedder, ModelRecord]:
    """Migrate (a new archive) and check the store; the embedder to use and the active model's record.

    The model is the one recorded in the database; asking for another raises ModelMismatchError.
    """
    migrate.check_not_newer(store.revision(), store.location)
    if not create and store.revision() is None:
        raise NotAnArchiveError(
            f"{store.location} is not an archive (a database without the archive's tables): "
            f"check -d/--db and ARCHIVE_DB, or create an archive with: archive ingest -d NEW.db FILES",
            path=store.location,
        )
    if embedder is None and (settings.model or store.revision() is None):
        embedder = _load(settings, settings.model)
    if store.revision() is None:
        assert embedder is not None
        store.upgrade(embedder.dimension)
    store.ensure_current()
    with store.writer() as writer:
        active = writer.active_model()
        if active is None:
            embedder = embedder or _load(settings, settings.model)
            active = writer.record_model(
                embedder.name, embedder.dimension, getattr(embedder, "fingerprint", None), store.vector_table
            )
        requested = embedder.name if embedder is not None else None
        if requested and not same_model(active.name, requested):
            raise ModelMismatchError(
                f"this database holds vectors from {active.name!r} ({active.dimension}-d), not {requested!r}: "
                f"drop --model/ARCHIVE_MODEL to use {active.name!r}, or run `archive reembed --model {spec_for(requested)}`"
            )
        embedder = embedder or _load(settings, spec_for(active.name))
        dimension = writer.vector_dimension(active.vector_table)
    if dimension != embedder.dimension:
        raise ModelMismatchError(
            f"vector table {active.vector_table} is {dimension}-d but model {embedder.name!r} "
            f"gives {embedder.dimension}-d vectors"
        )
    store.vector_table = active.vector_table
    return embedder, active


def _load(settings: Settings, spec: str | None) -> Embedder:
    return load_embedder(spec, home=settings.home, options=settings.embedding)
