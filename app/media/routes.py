from flask_smorest import Blueprint

from app.media import service

blp = Blueprint("media", __name__, url_prefix="/api/v1", description="图片上传与访问")


@blp.route("/uploads/<int:upload_id>", methods=["GET"])
@blp.response(200)
def image(upload_id):
    """图片内容（未通过审核的图片只对专班办公室可见）"""
    return service.serve_image(upload_id)
