"""Photos in the console: staff uploads go through app.media.service.create_upload, and every image is
served to the logged-in staff member through app.media.service.read_image (the same visibility rule as the
API: a unit sees the photos of the tickets it handles and of its own answers and updates, a blocked image only
the office sees)."""
from flask import request

from app.common.schemas import MAX_ID
from app.console.web import bp, current_staff, login_required
from app.media.service import Viewer, create_upload, read_image


def viewer(staff):
    return Viewer("staff", staff.id, staff.role)


def kept_ids():
    """Photos already stored by an earlier submission of the same form (it was refused for another reason)."""
    return [int(i) for i in request.form.getlist("image_ids") if i.isascii() and i.isdigit() and int(i) <= MAX_ID]


def store_files(staff, field):
    """Store every file of a multipart field; returns the new upload ids."""
    ids = []
    for file in request.files.getlist(field):
        if not file or not file.filename:
            continue
        ids.append(create_upload(viewer(staff), file.filename, file.read())["id"])
    return ids


@bp.get("/uploads/<int:upload_id>")
@login_required()
def image(upload_id):
    data, content_type, etag = read_image(upload_id, viewer(current_staff()))
    return data, 200, {"Content-Type": content_type, "ETag": f'"{etag}"', "Cache-Control": "private, max-age=3600"}
