"""The model registry: named, numbered, verified copies of model folders, each with a stage.

Registry().register("model/", "churn")      -> ModelVersion churn v1, stage candidate
registry.promote("churn", 1)                -> v1 serves; the previous production version is archived
registry.load("churn")                      -> the production Predictor

Why a registered version is never half there: the folder is copied under a hidden temporary name
and its checksums verified before any database work; then, holding the model's lock, a version
number is taken, the folder renamed to `<home>/models/<name>/<version>` and the row inserted, in
one transaction. Readers see versions only through rows, so a process killed at any point leaves
either nothing visible or a complete version. A folder left behind by a killed registrar carries a
number no committed row holds; the next registrar, holding the same lock, clears it.

The champion rule (promotion): one production version per name (the database enforces it too);
promoting archives the previous one; deleting the production version needs force=True. Every
promotion and rollback is recorded as a Decision (decisions.py) in the same transaction as the
stage change; whether a retrained challenger deserves promotion is champion.py's paired test.
registry.rollback("churn")                  -> the previous production version back, the current archived
registry.decisions("churn")                 -> what changed production, when and why, newest first
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
import secrets
import shutil
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from assay.artifact.manifest import MANIFEST
from assay.artifact.store import open_folder
from assay.config import Settings
from assay.errors import RegistryError, problem
from assay.registry import decisions as records
from assay.registry.db import STAGES, DecisionRow, ModelRow, TokenRow, VersionRow, connect, reader
from assay.registry.decisions import Decision

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
TOKEN_PREFIX = "assay"
PAUSE_ENV = "ASSAY_REGISTRY_TEST_PAUSE"  # tests only: hold register() at a named point so it can be killed


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: int
    stage: str
    metrics: dict
    data_fingerprint: str | None
    source: str | None
    assay_version: str | None
    trained: str | None
    created: dt.datetime
    tags: dict
    path: Path
    manifest_sha256: str

    def to_dict(self) -> dict:
        """JSON-ready, for the CLI's --json and the REST API."""
        out = asdict(self)
        out["created"] = self.created.isoformat(timespec="seconds")
        out["path"] = str(self.path)
        return out


@dataclass(frozen=True)
class Token:
    """What may be shown about a token: never its secret, which exists only in the creator's hands."""

    id: str
    label: str
    created: dt.datetime
    revoked: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.revoked is None


class Registry:
    def __init__(self, url: str | None = None, home: str | Path | None = None):
        settings = Settings.resolve(home=home, registry_url=url)
        self.home, self.url = settings.home, settings.registry_url
        self.home.mkdir(parents=True, exist_ok=True)
        self._engine = connect(self.url)
        self._write = sessionmaker(self._engine, expire_on_commit=False)
        self._read = sessionmaker(reader(self._engine), expire_on_commit=False)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Registry({_safe_url(self.url)!r}, home={str(self.home)!r})"

    # --- versions ----------------------------------------------------------------------------
    def register(
        self, model, name: str, tags: dict[str, str] | None = None, *, source: str | None = None
    ) -> ModelVersion:
        """Copy `model` (a saved model folder, or a fitted Predictor) in as the next version of
        `name`, stage candidate. `source`: the training data, recorded as lineage."""
        check_name(name)
        tags = _check_tags(tags)
        folder = self.home / "models" / name
        folder.mkdir(parents=True, exist_ok=True)
        for trash in folder.glob(".trash-*"):  # left by a process killed while deleting
            shutil.rmtree(trash, ignore_errors=True)
        staging = folder / f".incoming-{uuid.uuid4().hex}"
        try:
            _copy_in(model, staging)
            manifest = open_folder(staging)  # verifies the bytes that were copied, not only the source
            digest = _sha256(staging / MANIFEST)
            _pause("copied")
            return self._commit_version(name, staging, manifest, digest, tags, source)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _commit_version(self, name, staging: Path, manifest: dict, digest: str, tags: dict, source) -> ModelVersion:
        with self._write() as session:
            try:
                model = self._lock(session, name, create=True)
                number = model.last_version + 1
                final = staging.parent / str(number)
                if final.exists():  # no committed row has this number: a killed registrar's leftover
                    _discard(final)
                staging.rename(final)
                try:
                    model.last_version = number
                    row = VersionRow(
                        name=name,
                        version=number,
                        stage="candidate",
                        metrics=_metrics(manifest),
                        data_fingerprint=manifest.get("data_fingerprint"),
                        source=_safe_url(source) if source else None,
                        assay_version=manifest.get("assay_version"),
                        trained=manifest.get("created"),
                        created=_now(),
                        tags=tags,
                        path=final.relative_to(self.home).as_posix(),
                        manifest_sha256=digest,
                    )
                    session.add(row)
                    session.flush()
                    _pause("before_commit")
                except BaseException:
                    final.rename(staging)  # still holding the lock: nobody else can have looked
                    raise
                # If the commit itself fails the folder stays, numbered above every committed row,
                # and the next registrar clears it under the lock (above).
                session.commit()
            except BaseException:
                session.rollback()
                raise
            return self._record(row)

    def list(self, name: str | None = None) -> list[ModelVersion]:
        """Every version (of `name`, if given), by name then version."""
        with self._read() as session:
            query = select(VersionRow).order_by(VersionRow.name, VersionRow.version)
            if name is not None:
                self._model(session, name)
                query = query.where(VersionRow.name == name)
            return [self._record(r) for r in session.scalars(query)]

    def names(self) -> list[str]:
        with self._read() as session:
            return list(session.scalars(select(ModelRow.name).order_by(ModelRow.name)))

    def show(self, name: str, version: int | str | None = None) -> ModelVersion:
        """One version: a number, "production", or "latest" (the default)."""
        with self._read() as session:
            return self._record(self._find(session, name, "latest" if version is None else version))

    def production(self, name: str) -> ModelVersion:
        return self.show(name, "production")

    def promote(
        self,
        name: str,
        version: int,
        *,
        reason: str | None = None,
        evidence=None,
        expected_production: int | None = None,
        details: dict | None = None,
    ) -> ModelVersion:
        """Make `version` the production one; the previous production version becomes archived, and
        the change is recorded as a decision. `evidence`: the champion.Verdict that justified it;
        `expected_production`: refuse if production is no longer that version (someone changed it
        while a challenger was being trained and compared against the old one)."""
        with self._write.begin() as session:
            self._lock(session, name)
            row = self._find(session, name, version)
            current = self._current(session, name)
            was = current.version if current is not None else None
            if expected_production is not None and was != expected_production:
                raise RegistryError(
                    problem(
                        f"{name}'s production version changed to {was} while v{version} was compared with "
                        f"v{expected_production}",
                        where="promote",
                        fix=f"retrain again, or promote by hand: assay models promote {name} {version}",
                    )
                )
            if row.stage != "production":
                if current is not None:
                    current.stage = "archived"
                    session.flush()  # before the new one: the one-production index is checked per row
                row.stage = "production"
                decision = Decision(
                    name,
                    "promoted",
                    reason or "promoted by hand",
                    champion_version=was,
                    challenger_version=row.version,
                    details=details or {},
                    **records.evidence(evidence),
                )
                session.add(records.to_row(decision, _now()))
            return self._record(row)

    def rollback(self, name: str, *, reason: str | None = None) -> ModelVersion:
        """Put the previous production version back and archive the current one (never delete it,
        so a rollback can itself be undone by a promotion). 'Previous' follows the recorded history:
        two rollbacks undo two promotions."""
        with self._write.begin() as session:
            self._lock(session, name)
            current = self._current(session, name)
            if current is None:
                raise RegistryError(
                    problem(
                        f"{name} has no production version to roll back",
                        where="rollback",
                        fix=f"promote one instead: assay models promote {name} VERSION",
                    )
                )
            history = [self._decision(r) for r in session.scalars(_decisions_of(name).order_by(DecisionRow.id))]
            existing = set(session.scalars(select(VersionRow.version).where(VersionRow.name == name)))
            target = records.previous_production(history, current.version, existing.__contains__)
            if target is None:
                archived = sorted(v for v in existing if v != current.version)
                raise RegistryError(
                    problem(
                        f"nothing to roll back to: no earlier production version of {name} is recorded "
                        f"before v{current.version}",
                        where="rollback",
                        fix=f"promote a version by hand: assay models promote {name} VERSION"
                        + (f" (other versions: {archived})" if archived else ""),
                    )
                )
            row = self._find(session, name, target)
            current.stage = "archived"
            session.flush()
            row.stage = "production"
            decision = Decision(
                name,
                "rolled_back",
                reason or "rolled back by hand",
                champion_version=current.version,
                challenger_version=row.version,
            )
            session.add(records.to_row(decision, _now()))
            return self._record(row)

    def record_decision(self, decision: Decision) -> Decision:
        """Record a decision that changes no stage (a challenger kept out, a failed retraining);
        promotions and rollbacks are recorded by `promote` and `rollback` themselves."""
        if decision.action not in ("kept", "failed"):
            raise RegistryError(
                problem(
                    f"a {decision.action!r} decision is recorded by the stage change itself",
                    where="record_decision",
                    fix="call promote() or rollback(), which record it in the same transaction",
                )
            )
        with self._write.begin() as session:
            self._model(session, decision.name)
            row = records.to_row(decision, _now())
            session.add(row)
            session.flush()
            return self._decision(row)

    def decisions(self, name: str, *, limit: int | None = None) -> list[Decision]:
        """Every recorded decision about `name`, newest first."""
        with self._read() as session:
            self._model(session, name)
            query = _decisions_of(name).order_by(DecisionRow.id.desc())
            if limit is not None:
                query = query.limit(limit)
            return [self._decision(r) for r in session.scalars(query)]

    def last_decision(self, name: str, action: str | None = None) -> Decision | None:
        """The newest decision about `name` (of one `action`, if given), or None."""
        with self._read() as session:
            query = _decisions_of(name)
            if action is not None:
                query = query.where(DecisionRow.action == action)
            row = session.scalars(query.order_by(DecisionRow.id.desc()).limit(1)).first()
            return self._decision(row) if row is not None else None

    def archive(self, name: str, version: int) -> ModelVersion:
        """Retire a version; archiving the production version leaves `name` with none serving."""
        with self._write.begin() as session:
            self._lock(session, name)
            row = self._find(session, name, version)
            row.stage = "archived"
            return self._record(row)

    def delete(self, name: str, version: int, *, force: bool = False) -> ModelVersion:
        """Remove a version's row, then its folder. The row goes first: a crash in between
        leaves only an invisible folder, never a row whose files are gone."""
        with self._write.begin() as session:
            self._lock(session, name)
            row = self._find(session, name, version)
            if row.stage == "production" and not force:
                raise RegistryError(
                    problem(
                        f"{name} v{row.version} is in production",
                        where="delete",
                        fix="promote another version first, or pass --force (force=True) to delete it anyway",
                    )
                )
            record = self._record(row)
            session.delete(row)
        _discard(record.path)
        return record

    def load(self, name: str, version: int | str | None = None):
        """The Predictor of a version: a number, "latest", or "production" (the default).
        The folder's manifest must still be the one registered, and its files must match it."""
        from assay.predictor import Predictor

        record = self.show(name, "production" if version is None else version)
        if not (record.path / MANIFEST).is_file() or _sha256(record.path / MANIFEST) != record.manifest_sha256:
            raise RegistryError(
                problem(
                    f"the stored files of {name} v{record.version} are missing or changed since registration",
                    where=str(record.path),
                    fix="restore the folder from a backup, or register the model again",
                )
            )
        return Predictor.load(record.path)

    # --- tokens ------------------------------------------------------------------------------
    def create_token(self, label: str) -> str:
        """A new API token, returned once: only a salted hash is stored. The secret has 256 random
        bits, so a fast hash is as safe as a slow one and keeps per-request checks cheap."""
        if not isinstance(label, str) or not label.strip():
            raise RegistryError(problem("a token needs a label", where="label", fix="e.g. 'ci' or 'web-app'"))
        token_id, secret, salt = secrets.token_hex(4), secrets.token_urlsafe(32), secrets.token_hex(16)
        with self._write.begin() as session:
            session.add(
                TokenRow(
                    id=token_id, label=label.strip(), salt=salt, secret_sha256=_digest(salt, secret), created=_now()
                )
            )
        return f"{TOKEN_PREFIX}_{token_id}_{secret}"

    def verify_token(self, token: str) -> bool:
        """True for a token that exists and is not revoked; the comparison takes constant time."""
        parts = token.split("_", 2) if isinstance(token, str) else []
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
            return False
        with self._read() as session:
            row = session.get(TokenRow, parts[1])
            salt, stored = (row.salt, row.secret_sha256) if row is not None else ("", "0" * 64)
            ok = hmac.compare_digest(_digest(salt, parts[2]), stored)
            return ok and row is not None and row.revoked is None

    def revoke_token(self, token_id: str) -> Token:
        with self._write.begin() as session:
            row = session.get(TokenRow, token_id)
            if row is None:
                raise RegistryError(
                    problem(f"no token with id {token_id!r}", where="revoke", fix="see `assay tokens list` for ids")
                )
            if row.revoked is None:
                row.revoked = _now()
            return _token(row)

    def list_tokens(self) -> list[Token]:
        with self._read() as session:
            return [_token(r) for r in session.scalars(select(TokenRow).order_by(TokenRow.created, TokenRow.id))]

    # --- internals ---------------------------------------------------------------------------
    def _lock(self, session: Session, name: str, *, create: bool = False) -> ModelRow:
        """The model's row, locked for this transaction (PostgreSQL; SQLite's BEGIN IMMEDIATE
        already holds the database's write lock), so version numbers and stages change one writer at a time."""
        if create:
            _insert_if_missing(session, name)
        row = session.scalars(select(ModelRow).where(ModelRow.name == name).with_for_update()).one_or_none()
        return row if row is not None else self._model(session, name)

    def _model(self, session: Session, name: str) -> ModelRow:
        row = session.get(ModelRow, name)
        if row is None:
            known = list(session.scalars(select(ModelRow.name).order_by(ModelRow.name)))
            raise RegistryError(
                problem(
                    f"no model named {name!r} in the registry",
                    where=_safe_url(self.url),
                    fix=f"use one of {known}" if known else "register one: assay models register MODEL_DIR --name NAME",
                )
            )
        return row

    def _find(self, session: Session, name: str, version: int | str) -> VersionRow:
        self._model(session, name)
        query = select(VersionRow).where(VersionRow.name == name)
        if version == "latest":
            row = session.scalars(query.order_by(VersionRow.version.desc()).limit(1)).first()
        elif version in STAGES:
            row = session.scalars(query.where(VersionRow.stage == version).order_by(VersionRow.version.desc())).first()
        else:
            row = session.scalars(query.where(VersionRow.version == _version_number(version))).one_or_none()
        if row is None:
            have = list(session.scalars(select(VersionRow.version).where(VersionRow.name == name)))
            fix = (
                f"promote one: assay models promote {name} VERSION" if version == "production" else f"versions: {have}"
            )
            raise RegistryError(problem(f"{name} has no version {version}", where=name, fix=fix))
        return row

    def _current(self, session: Session, name: str) -> VersionRow | None:
        return session.scalars(
            select(VersionRow).where(VersionRow.name == name, VersionRow.stage == "production")
        ).one_or_none()

    def _decision(self, row: DecisionRow) -> Decision:
        return records.from_row(row, _aware(row.created))

    def _record(self, row: VersionRow) -> ModelVersion:
        return ModelVersion(
            name=row.name,
            version=row.version,
            stage=row.stage,
            metrics=dict(row.metrics or {}),
            data_fingerprint=row.data_fingerprint,
            source=row.source,
            assay_version=row.assay_version,
            trained=row.trained,
            created=_aware(row.created),
            tags=dict(row.tags or {}),
            path=self.home / row.path,
            manifest_sha256=row.manifest_sha256,
        )


def _decisions_of(name: str):
    return select(DecisionRow).where(DecisionRow.name == name)


def _insert_if_missing(session: Session, name: str) -> None:
    """Create the model's row without racing another creator (both dialects know ON CONFLICT)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        if session.get(ModelRow, name) is None:
            session.add(ModelRow(name=name, created=_now(), last_version=0))
            session.flush()
        return
    session.execute(
        insert(ModelRow)
        .values(name=name, created=_now(), last_version=0)
        .on_conflict_do_nothing(index_elements=["name"])
    )


def _copy_in(model, staging: Path) -> None:
    from assay.predictor import Predictor

    if isinstance(model, Predictor):
        model.save(staging)
        return
    if not isinstance(model, (str, os.PathLike)):
        raise RegistryError(
            problem(
                f"cannot register a {type(model).__name__}",
                where="register",
                fix="pass a model folder (from `assay fit --out` or Predictor.save) or a fitted Predictor",
            )
        )
    open_folder(model)  # a clear error naming the user's folder, before anything is copied
    shutil.copytree(model, staging)


def _metrics(manifest: dict) -> dict:
    score = (manifest.get("ensemble") or {}).get("validation_score")
    metric = manifest.get("metric")
    return {f"val_{metric}": score} if metric and score is not None else {}


def check_name(name) -> None:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise RegistryError(
            problem(
                f"model name {name!r} is not allowed",
                where="name",
                fix="use letters, digits, '_', '-' or '.', starting with a letter or digit (at most 100)",
            )
        )


def _check_tags(tags) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, dict) or not all(isinstance(k, str) and k for k in tags):
        raise RegistryError(problem(f"tags must map names to values, got {tags!r}", where="tags", fix="{'team': 'x'}"))
    return {k: str(v) for k, v in tags.items()}


def _version_number(version) -> int:
    try:
        number = int(version)
    except (TypeError, ValueError):
        number = 0
    if isinstance(version, bool) or number < 1 or str(number) != str(version).strip():
        raise RegistryError(
            problem(
                f"version {version!r} is not a version",
                where="version",
                fix="pass a number >= 1, 'latest' or a stage (" + ", ".join(STAGES) + ")",
            )
        )
    return number


def _discard(path: Path) -> None:
    """Remove a folder so that it vanishes at once: rename first (atomic), then delete at leisure."""
    if not path.exists():
        return
    trash = path.parent / f".trash-{uuid.uuid4().hex}"
    path.rename(trash)
    shutil.rmtree(trash, ignore_errors=True)


def _pause(point: str) -> None:
    if os.environ.get(PAUSE_ENV) == point:
        print(f"registry paused at {point}", flush=True)
        time.sleep(600)


def _safe_url(value: str) -> str:
    """A source or registry URL fit for lineage and messages: no password in it."""
    if "://" not in value:
        return value
    try:
        return make_url(value).render_as_string(hide_password=True)
    except ArgumentError:
        return value


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite hands datetimes back without their zone; they were written in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _token(row: TokenRow) -> Token:
    return Token(row.id, row.label, _aware(row.created), _aware(row.revoked) if row.revoked else None)
