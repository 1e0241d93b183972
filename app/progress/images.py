"""Who may see a progress update's photos (a rule for app.media.owners, registered by app.progress.init_app)."""
from app.accounts.models import StaffUser
from app.extensions import db
from app.progress.models import ProgressUpdate


def update_images_visible(update_ids, viewer):
    """Everyone once one of the updates is published, else the staff of the update's unit."""
    updates = db.session.execute(db.select(ProgressUpdate).where(ProgressUpdate.id.in_(update_ids))).scalars().all()
    if any(u.status == "published" for u in updates):
        return True
    if viewer is None or viewer.kind != "staff":
        return False
    staff = db.session.get(StaffUser, viewer.id)
    return staff is not None and staff.unit_id is not None and any(u.unit_id == staff.unit_id for u in updates)
