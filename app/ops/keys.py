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
    """(name, model, key column, ciphertext column) of everything encrypted with the phone key."""
    from app.accounts.models import Resident
    from app.alerts.models import StaffAlertSettings, UnitAlertSettings
    from app.feedback.models import Complaint

    return (("residents", Resident, Resident.id, Resident.phone_encrypted),
            ("complaints", Complaint, Complaint.id, Complaint.phone_encrypted),
            # Staff mobiles for SMS alerts, and units' robot webhooks (a secret: whoever has it can post).
            ("staff_alert_settings", StaffAlertSettings, StaffAlertSettings.staff_id,
             StaffAlertSettings.mobile_encrypted),
            ("unit_alert_settings", UnitAlertSettings, UnitAlertSettings.unit_id,
             UnitAlertSettings.robot_webhook_encrypted))


def rekey_phones(batch=BATCH):
    """Re-encrypt with the current key every stored number an old key encrypted; one commit per batch, so it
    can run while the service does and be run again after an interruption. Returns {table: (rewritten, unreadable)}."""
    from app.wechat.phones import needs_rekey, rekey

    report = {}
    for name, model, key, column in _tables():
        rewritten = unreadable = 0
        last_id = 0
        while True:
            rows = db.session.execute(
                db.select(key, column).where(key > last_id, column.is_not(None)).order_by(key).limit(batch)).all()
            if not rows:
                break
            last_id = rows[-1][0]
            for row_id, ciphertext in rows:
                if not needs_rekey(ciphertext):
                    continue
                try:
                    fresh = rekey(ciphertext)
                except ValueError:
                    unreadable += 1
                    continue
                # Only if unchanged since read: a number re-entered meanwhile is already under the new key.
                db.session.execute(db.update(model).where(key == row_id, column == ciphertext)
                                   .values({column.key: fresh}))
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
