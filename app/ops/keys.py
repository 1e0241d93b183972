"""Key rotation for stored phone numbers: `flask --app wsgi phones rekey`.

Rotation: put the new passphrase in PHONE_ENCRYPTION_KEY and the old one in PHONE_ENCRYPTION_OLD_KEYS, restart
(numbers are then read with either key and written with the new one), run `phones rekey` once, and drop the old
key at the next restart. docs/运维手册.md has the steps.
"""
import click
from flask.cli import with_appcontext

from app.extensions import db

BATCH = 500


def _tables():
    from app.accounts.models import Resident
    from app.feedback.models import Complaint

    return (("residents", Resident), ("complaints", Complaint))


def rekey_phones(batch=BATCH):
    """Re-encrypt with the current key every stored number an old key encrypted; one commit per batch, so it
    can run while the service does and be run again after an interruption. Returns {table: (rewritten, unreadable)}."""
    from app.wechat.phones import needs_rekey, rekey

    report = {}
    for name, model in _tables():
        rewritten = unreadable = 0
        last_id = 0
        while True:
            rows = db.session.execute(
                db.select(model.id, model.phone_encrypted)
                .where(model.id > last_id, model.phone_encrypted.is_not(None))
                .order_by(model.id).limit(batch)).all()
            if not rows:
                break
            last_id = rows[-1].id
            for row in rows:
                if not needs_rekey(row.phone_encrypted):
                    continue
                try:
                    fresh = rekey(row.phone_encrypted)
                except ValueError:
                    unreadable += 1
                    continue
                # Only if unchanged since read: a number re-entered meanwhile is already under the new key.
                db.session.execute(db.update(model).where(model.id == row.id,
                                                          model.phone_encrypted == row.phone_encrypted)
                                   .values(phone_encrypted=fresh))
                rewritten += 1
            db.session.commit()
        report[name] = (rewritten, unreadable)
    return report


@click.group("phones", help="手机号加密密钥")
def phones_group():
    pass


@phones_group.command("rekey", help="用当前的 PHONE_ENCRYPTION_KEY 重新加密由旧密钥（PHONE_ENCRYPTION_OLD_KEYS）加密的手机号")
@with_appcontext
def phones_rekey():
    report = rekey_phones()
    for name, (rewritten, unreadable) in report.items():
        click.echo(f"{name}：重新加密 {rewritten} 条" + (f"，{unreadable} 条无法用任何已配置的密钥解开" if unreadable else ""))
    if any(unreadable for _, unreadable in report.values()):
        raise click.ClickException("有手机号无法解密：确认 PHONE_ENCRYPTION_OLD_KEYS 包含所有曾用过的密钥后再运行。")
    click.echo("完成：现在可以从 PHONE_ENCRYPTION_OLD_KEYS 中删除旧密钥（下次重启生效）。")


def init_app(app):
    app.cli.add_command(phones_group)
