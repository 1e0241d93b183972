"""Images as the API shows them: [{id, url}]."""
from flask import url_for


def image_refs(ids):
    # Blocked images are filtered by the media route itself, so a stale cached list cannot leak one.
    return [{"id": i, "url": url_for("media.image", upload_id=i)} for i in ids]


def serve_image(upload_id):
    """Filled in by the upload work (storage, content check); until then nothing is stored to serve."""
    from app.errors import NotFound

    raise NotFound("图片不存在。")
