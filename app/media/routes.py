import functools

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import current_resident, current_staff, load_resident, load_staff
from app.common.timeutil import utcnow
from app.errors import Unauthorized
from app.media import schemas, service

blp = Blueprint("media", __name__, url_prefix="/api/v1", description="图片上传与访问")

BEARER = [{"bearerAuth": []}]


def _viewer():
    """Whoever the bearer token names (resident or staff); None without one."""
    if not request.headers.get("Authorization"):
        return None
    try:
        resident = load_resident()
    except Unauthorized:
        staff = load_staff()
        return service.Viewer("staff", staff.id, staff.role)
    return service.Viewer("resident", resident.id)


def images_signed_for(viewer_of):
    """Decorator for views whose answer shows private images: every `images` list in it is signed for the viewer
    `viewer_of()` names (the logged-in resident or staff member), so `<image src>` can load them."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            return service.sign_images(view(*args, **kwargs), viewer_of())

        return wrapper

    return decorator


def resident_viewer():
    return service.Viewer("resident", current_resident().id)


def staff_viewer():
    staff = current_staff()
    return service.Viewer("staff", staff.id, staff.role)


def _image_response(data, content_type, etag, cache):
    response = Response(data, mimetype=content_type)
    response.set_etag(etag)
    response.headers["Cache-Control"] = cache
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response.make_conditional(request)


@blp.route("/uploads")
class Uploads(MethodView):
    @blp.arguments(schemas.UploadIn, location="files")
    @blp.response(201, schemas.UploadOut)
    @blp.alt_response(413, description="图片过大")
    @blp.alt_response(422, description="不是 JPEG/PNG/WebP 图片、已损坏或像素过多")
    @blp.alt_response(429, description="居民今日上传新图片已达上限（UPLOAD_DAILY_LIMIT）；见 Retry-After")
    @blp.doc(security=BEARER)
    def post(self, files):
        """上传图片（居民或工作人员）：去除 EXIF（含位置信息）；居民图片经微信内容安全审核后才对他人可见。

        同一用户重复上传同一张图片（如网络重试）返回同一条记录。
        """
        viewer = _viewer()
        if viewer is None:
            raise Unauthorized("请先登录。")
        upload = files["file"]
        return service.create_upload(viewer, upload.filename, upload.read())


@blp.route("/uploads/<int:upload_id>", methods=["GET"])
@blp.arguments(schemas.ImageArgs, location="query")
@blp.response(200, content_type="image/*")
@blp.alt_response(401, description="签名地址已过期")
@blp.alt_response(404, description="图片不存在或无权查看")
@blp.doc(security=[{}, *BEARER])
def image(args, upload_id):
    """图片内容：已发布进展的图片公开（可缓存）；诉求图片只对上传者、办理该诉求的单位和专班办公室可见；答复图片另对该诉求的居民可见；未通过审核的只对专班办公室可见。

    接口返回的私有图片地址带签名参数 `t`（对该查看者、短时有效，见 `url_expires_at`），`<image src>` 无需 Authorization 头。
    """
    # A bearer token, when sent, says who is asking now; the signature stands in for it where none can be sent.
    if args.get("t") and not request.headers.get("Authorization"):
        viewer, left = service.signed_viewer(upload_id, args["t"], utcnow())
        data, content_type, etag = service.read_image(upload_id, viewer)
        return _image_response(data, content_type, etag, f"private, max-age={min(left, 300)}")
    viewer = _viewer()
    data, content_type, etag = service.read_image(upload_id, viewer)
    # Public only when anyone may see it, whoever asked: a cache must never keep a private image.
    cache = "public, max-age=86400" if service.is_public(upload_id) else "private, max-age=300"
    return _image_response(data, content_type, etag, cache)


@blp.route("/uploads/source/<token>/<name>", methods=["GET"])
@blp.response(200, content_type="image/*")
@blp.alt_response(404, description="签名无效或已过期")
def check_source(token, name):
    """供微信内容安全接口拉取待审图片的签名地址（两天内有效）"""
    data, content_type, etag = service.read_check_source(token)
    return _image_response(data, content_type, etag, "private, no-store")
