from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import load_resident, load_staff
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
@blp.response(200, content_type="image/*")
@blp.alt_response(404, description="图片不存在或无权查看")
@blp.doc(security=[{}, *BEARER])
def image(upload_id):
    """图片内容：已发布进展的图片公开；诉求图片只对上传者、办理该诉求的单位和专班办公室可见；答复图片另对该诉求的居民可见；未通过审核的只对专班办公室可见"""
    data, content_type, etag = service.read_image(upload_id, _viewer())
    return _image_response(data, content_type, etag, "private, max-age=300")


@blp.route("/uploads/source/<token>/<name>", methods=["GET"])
@blp.response(200, content_type="image/*")
@blp.alt_response(404, description="签名无效或已过期")
def check_source(token, name):
    """供微信内容安全接口拉取待审图片的签名地址（两天内有效）"""
    data, content_type, etag = service.read_check_source(token)
    return _image_response(data, content_type, etag, "private, no-store")
