"""What an upload is attached to (table upload_links), and whether a viewer may see it because of that.

Media knows uploads; the packages that attach them know their owners: feedback the complaints and their reply
events, progress the updates. Each registers a rule for its owner kinds when the app starts (their init_app),
so media asks "may this viewer see an image of these owners" without importing them — app.media sits below
feedback and progress (the import contracts in pyproject.toml).
"""
import logging

from app.extensions import db
from app.media.models import OWNER_KINDS, UploadLink

log = logging.getLogger(__name__)

# kind -> rule(owner_ids, viewer) -> bool; viewer is an app.media.service.Viewer or None (nobody signed in).
_rules = {}


def register(kind, rule):
    if kind not in OWNER_KINDS:
        raise ValueError(f"unknown owner kind {kind!r}")
    _rules[kind] = rule


def link(upload_ids, kind, owner_id):
    """Attach these uploads to one owner (in the current transaction; no commit). Ids already linked stay."""
    ids = list(dict.fromkeys(upload_ids or []))
    if not ids:
        return
    linked = set(db.session.execute(db.select(UploadLink.upload_id).where(
        UploadLink.owner_kind == kind, UploadLink.owner_id == owner_id, UploadLink.upload_id.in_(ids))).scalars())
    db.session.add_all(UploadLink(upload_id=i, owner_kind=kind, owner_id=owner_id) for i in ids if i not in linked)


def relink(upload_ids, kind, owner_id):
    """The owner's uploads are exactly these from now on (an edited draft's photos)."""
    ids = list(dict.fromkeys(upload_ids or []))
    db.session.execute(db.delete(UploadLink).where(
        UploadLink.owner_kind == kind, UploadLink.owner_id == owner_id, UploadLink.upload_id.not_in(ids))
        .execution_options(synchronize_session=False))
    link(ids, kind, owner_id)


def owners_of(upload_id):
    """{kind: [owner ids]} of one upload."""
    owners = {}
    for kind, owner_id in db.session.execute(db.select(UploadLink.owner_kind, UploadLink.owner_id).where(
            UploadLink.upload_id == upload_id).order_by(UploadLink.owner_kind, UploadLink.owner_id)):
        owners.setdefault(kind, []).append(owner_id)
    return owners


def visible_through_owners(upload_id, viewer):
    """Whether any owner of the upload lets `viewer` see it. An owner kind nobody registered lets nobody."""
    for kind, owner_ids in owners_of(upload_id).items():
        rule = _rules.get(kind)
        if rule is None:
            log.error("no visibility rule for images of %s; upload %s refused", kind, upload_id)
            continue
        if rule(owner_ids, viewer):
            return True
    return False
