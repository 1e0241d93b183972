"""Operator commands: `flask --app wsgi plan import FILE`, `calendar load FILE | show YEAR`, `staff create`,
`dev seed`."""
import click
from flask import current_app

from app import cache
from app.accounts import roles
from app.accounts.roles import STAFF_ROLES
from app.errors import DomainError


def register_cli(app):
    app.cli.add_command(plan_group)
    app.cli.add_command(calendar_group)
    app.cli.add_command(staff_group)
    app.cli.add_command(dev_group)
    app.cli.add_command(audit_group)
    app.cli.add_command(keys_group)


@click.group("plan", help="民生实事计划")
def plan_group():
    pass


@plan_group.command("import", help="导入或更新一个年度计划（YAML、JSON 或 Excel 模板 .xlsx；可重复执行）")
@click.argument("path", type=click.Path(dir_okay=False), required=False)
@click.option("--dry-run", is_flag=True, help="只校验并报告，不写入")
def plan_import(path, dry_run):
    from app.projects.importer import PlanFileError, import_plan

    path = path or current_app.config["PLAN_FILE"]
    try:
        report = import_plan(path, actor="cli", dry_run=dry_run)
    except PlanFileError as exc:
        raise click.ClickException(str(exc)) from None
    if report.changed and not dry_run:
        cache.invalidate()
    click.echo(("（试运行）" if dry_run else "") + ("导入完成。" if report.changed else "无变化。") + report.summary())


@plan_group.command("export", help="把计划写成 Excel 模板（项目、指标、乡镇分解、单位、乡镇工作表），可改后再导入")
@click.option("--plan", "plan_id", type=click.IntRange(1, 2**31 - 1), help="计划 id，默认为当前计划")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
def plan_export(plan_id, path):
    from pathlib import Path

    from app.projects.service import get_plan
    from app.projects.workbook import write_workbook

    if not path.lower().endswith(".xlsx"):
        raise click.ClickException("导出文件名应以 .xlsx 结尾。")
    try:
        plan = get_plan(plan_id)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    Path(path).write_bytes(write_workbook(plan))
    click.echo(f"已导出 {plan.year} 年计划（id {plan.id}）到 {path}")


@plan_group.command("current", help="把某个计划设为当前计划（小程序默认展示、统计与看板的默认）")
@click.argument("plan_id", type=click.IntRange(1, 2**31 - 1))
def plan_current(plan_id):
    from app.projects.plans import make_current

    try:
        plan = make_current(plan_id)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"当前计划：{plan.year} 年 {plan.title}（id {plan.id}）")


@plan_group.command("list", help="列出所有计划")
def plan_list():
    from app.projects.service import list_plans

    for item in list_plans()["items"]:
        click.echo(f"{item['id']}\t{item['year']}\t{item['title']}{'（当前）' if item['is_current'] else ''}")


@click.group("calendar", help="工作日历：国务院每年的放假安排")
def calendar_group():
    pass


@calendar_group.command("load", help="载入一年的放假安排（data/calendars/<年>.yaml），存入数据库，各进程一致")
@click.argument("path", type=click.Path(dir_okay=False))
def calendar_load(path):
    from app.feedback.calendars import CalendarFileError, load_calendar

    try:
        schedule, changed = load_calendar(path)
    except CalendarFileError as exc:
        raise click.ClickException(str(exc)) from None
    state = "完整" if schedule.complete else "暂定"
    click.echo(f"{schedule.year} 年放假安排（{state}）{'已载入' if changed else '无变化'}："
               f"放假 {len(schedule.days_off)} 天，调休上班 {len(schedule.workdays)} 天。")


@calendar_group.command("show", help="显示某年工作日历的来源、放假日（工作日里的）和调休上班日（周末里的）")
@click.argument("year", type=click.IntRange(1990, 2100))
def calendar_show(year):
    from datetime import date, timedelta

    from app.feedback.deadlines import calendar

    cal = calendar()
    click.echo(f"{year} 年：{cal.origin(year)}")
    day, off, work = date(year, 1, 1), [], []
    while day.year == year:
        working = cal.is_working_day(day)
        if not working and day.weekday() < 5:
            off.append(day)
        elif working and day.weekday() >= 5:
            work.append(day)
        day += timedelta(days=1)
    click.echo("周一至周五放假：" + ("、".join(f"{d:%m-%d}" for d in off) or "无"))
    click.echo("周末调休上班：" + ("、".join(f"{d:%m-%d}" for d in work) or "无"))


@click.group("staff", help="工作人员账号")
def staff_group():
    pass


@staff_group.command("create", help="创建工作人员账号")
@click.option("--username", required=True)
@click.option("--password", required=True, help="至少 10 位、含三类字符、不含用户名；首次登录须修改")
@click.option("--role", required=True, type=click.Choice(STAFF_ROLES))
@click.option("--unit", "unit_name", help="所属单位名称，如 县民政局")
@click.option("--name", "display_name", help="显示名称")
def staff_create(username, password, role, unit_name, display_name):
    from app.accounts.service import create_staff

    try:
        staff = create_staff(username, password, role, unit_name, display_name)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"已创建账号 {staff.username}（{staff.role}{'，' + staff.unit.name if staff.unit else ''}）")


@staff_group.command("set", help="设置工作人员的提醒渠道：企业微信账号、手机号（加密保存）、开关与免打扰时段")
@click.argument("username")
@click.option("--wecom-userid", help="企业微信成员账号（userid）；空字符串删除")
@click.option("--mobile", help="接收短信的手机号；空字符串删除")
@click.option("--wecom/--no-wecom", "wecom_enabled", default=None, help="企业微信提醒开/关")
@click.option("--sms/--no-sms", "sms_enabled", default=None, help="短信提醒开/关")
@click.option("--quiet", help="免打扰时段，如 22:00-07:30；off 关闭；default 恢复默认")
def staff_set(username, wecom_userid, mobile, wecom_enabled, sms_enabled, quiet):
    from app.alerts.quiet import parse_span
    from app.alerts.settings import settings_json, staff_by_username, update_settings

    changes = {name: value for name, value in (("wecom_userid", wecom_userid), ("mobile", mobile),
                                                ("wecom_enabled", wecom_enabled), ("sms_enabled", sms_enabled))
               if value is not None}
    if quiet == "off":
        changes["quiet_enabled"] = False
    elif quiet == "default":
        changes.update(quiet_enabled=True, quiet_start=None, quiet_end=None)
    elif quiet:
        try:
            start, end = parse_span(quiet, "--quiet")
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--quiet") from None
        changes.update(quiet_enabled=True, quiet_start=start.strftime("%H:%M"), quiet_end=end.strftime("%H:%M"))
    if not changes:
        raise click.UsageError("请至少给出一项设置（--wecom-userid、--mobile、--wecom/--no-wecom、--sms/--no-sms、--quiet）。")
    try:
        staff = staff_by_username(username)
        update_settings(staff.id, changes, actor_type="cli")
    except DomainError as exc:
        raise click.ClickException(_with_errors(exc)) from None
    shown = settings_json(staff, current_app.config)
    quiet_hours = shown["quiet_hours"]
    click.echo(f"{staff.username}：企业微信 {shown['wecom_userid'] or '未设置'}（{'开' if shown['wecom_enabled'] else '关'}），"
               f"手机 {shown['mobile_masked'] or '未设置'}（{'开' if shown['sms_enabled'] else '关'}），"
               f"免打扰 {quiet_hours['start'] + '-' + quiet_hours['end'] if quiet_hours['enabled'] else '关闭'}")


@staff_group.command("robot", help="设置单位的企业微信群机器人（webhook 的 key 或完整地址）")
@click.option("--unit", "unit_name", required=True, help="单位名称，如 县民政局")
@click.option("--webhook", help="群机器人 webhook 的 key 或完整地址；空字符串删除")
@click.option("--on/--off", "enabled", default=None)
def staff_robot(unit_name, webhook, enabled):
    from app.accounts.models import Unit
    from app.alerts.settings import set_unit_robot
    from app.extensions import db

    unit = db.session.execute(db.select(Unit).filter_by(name=unit_name)).scalar_one_or_none()
    if unit is None:
        raise click.ClickException(f"单位不存在：{unit_name}")
    try:
        settings = set_unit_robot(unit.id, webhook, enabled, actor_type="cli")
    except DomainError as exc:
        raise click.ClickException(_with_errors(exc)) from None
    click.echo(f"{unit.name}：群机器人 {settings.robot_webhook_masked or '未设置'}（{'开' if settings.robot_enabled else '关'}）")


def _with_errors(exc):
    details = "；".join(f"{name}: {'、'.join(map(str, problems))}" for name, problems in (exc.errors or {}).items())
    return f"{exc.message} {details}".strip()


DEV_PASSWORD = "minsheng2024"


@click.group("dev", help="开发环境辅助命令")
def dev_group():
    pass


@dev_group.command("seed", help="创建开发账号：admin、office、security（安全管理员）、auditor（审计管理员），"
                                 "以及每个牵头单位一个 unitN 账号")
def dev_seed():
    from app.accounts.models import StaffUser, Unit
    from app.accounts.service import create_staff
    from app.extensions import db

    if current_app.config["APP_ENV"] == "production":
        raise click.ClickException("生产环境不创建开发账号。")
    from app.common.timeutil import utcnow

    existing = {s.username: s for s in db.session.execute(db.select(StaffUser)).scalars()}
    wanted = [("admin", roles.ADMIN, None), ("office", roles.OFFICE, None), ("security", roles.SECURITY_ADMIN, None),
              ("auditor", roles.AUDITOR, None)]
    units = db.session.execute(db.select(Unit).order_by(Unit.id)).scalars().all()
    wanted += [(f"unit{u.id}", roles.UNIT_STAFF, u.name) for u in units]
    created = 0
    for username, role, unit_name in wanted:
        if username not in existing:
            # The one place the password rules do not apply: development accounts with a known password.
            create_staff(username, DEV_PASSWORD, role, unit_name, must_change=False, check_rules=False)
            created += 1
        elif not existing[username].must_change_password:
            # `make run` seeds on every start, so the development accounts never reach PASSWORD_MAX_AGE_DAYS.
            existing[username].password_changed_at = utcnow()
    from app.alerts.models import StaffAlertSettings

    # Every development account reaches the 企业微信 double under its own username, so `make run` shows alerts
    # going out (GET /api/v1/staff/me/messages, the console's 我的提醒).
    for staff in db.session.execute(db.select(StaffUser).where(StaffUser.username.in_([w[0] for w in wanted]))).scalars():
        if db.session.get(StaffAlertSettings, staff.id) is None:
            db.session.add(StaffAlertSettings(staff_id=staff.id, wecom_userid=staff.username))
    db.session.commit()
    click.echo(f"开发账号：新建 {created} 个，密码均为 {DEV_PASSWORD}（admin、office、security、auditor、unit<单位id>）")


@dev_group.command("serve", help="开发服务器：同时启动本地微信接口替身（WECHAT_DOUBLE）")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int, envvar="PORT")
def dev_serve(host, port):
    from urllib.parse import urlparse

    config = current_app.config
    if config["APP_ENV"] == "production":
        raise click.ClickException("生产环境请使用 gunicorn -c config/gunicorn.conf.py wsgi:app")
    if config["WECHAT_DOUBLE"]:
        # Development wiring: the only place outside tests/ and bench/ that knows the double is there.
        from doubles.wechat import WeChatDouble, wiring

        base = urlparse(config["WECHAT_API_BASE"])
        double = WeChatDouble(
            appid=config["WECHAT_APPID"], secret=config["WECHAT_SECRET"],
            callback_url=f"http://{host}:{port}/wechat/callback",
            callback_token=config["WECHAT_CALLBACK_TOKEN"], encoding_aes_key=config["WECHAT_ENCODING_AES_KEY"],
            encrypt_callback=True,
        ).start(host=base.hostname, port=base.port)
        wiring.connect(double)
        click.echo(f"微信接口替身：{double.url}")
    _start_alert_doubles(config)
    click.echo(f"服务地址：http://{host}:{port}/  接口文档：http://{host}:{port}/api/v1/docs")
    # app.run() refuses to run inside a flask CLI command; the same server, started directly.
    from werkzeug.serving import run_simple

    run_simple(host, port, current_app._get_current_object(), threaded=True, use_reloader=False)


def _start_alert_doubles(config):
    """The 企业微信 and SMS doubles on the ports the development settings name, when they point at loopback."""
    from urllib.parse import urlparse

    wecom, sms = urlparse(config["WECOM_API_BASE"]), urlparse(config["SMS_ENDPOINT"])
    if wecom.hostname == "127.0.0.1" and wecom.port:
        from doubles.wecom import WeComDouble

        double = WeComDouble(corp_id=config["WECOM_CORP_ID"], secret=config["WECOM_SECRET"],
                             agent_id=config["WECOM_AGENT_ID"]).start(port=wecom.port)
        click.echo(f"企业微信接口替身：{double.url}")
    if sms.hostname == "127.0.0.1" and sms.port:
        from doubles.sms import SmsDouble

        double = SmsDouble(secret_id=config["SMS_SECRET_ID"], secret_key=config["SMS_SECRET_KEY"],
                           sdk_app_id=config["SMS_SDK_APP_ID"], sign_name=config["SMS_SIGN_NAME"],
                           template_ids=list((config["SMS_TEMPLATES"] or {}).values())).start(port=sms.port)
        click.echo(f"短信接口替身：{double.url}")


@click.group("audit", help="审计日志")
def audit_group():
    pass


@audit_group.command("verify", help="校验审计日志的哈希链：指出第一条被改动、插入或删除的记录")
def audit_verify():
    from app.accounts.audit import verify

    finding, checked, head = verify()
    if finding is not None:
        raise click.ClickException(f"审计日志已被篡改：{finding.message}（{finding.kind}，此前 {checked} 条完好）")
    click.echo(f"审计日志完好：{checked} 条记录，哈希链连续。最新哈希 {head}（请另行记下，以便下次比对）")


@click.group("keys", help="密钥轮换")
def keys_group():
    pass


@keys_group.command("rotate-phones", help="用当前的 PHONE_ENCRYPTION_KEY 重新加密所有由旧密钥加密的手机号（同 phones rekey）")
@click.pass_context
def keys_rotate_phones(ctx):
    # The name API.md gives; app/ops/keys.py does the work for both names.
    from app.ops.keys import phones_rekey

    ctx.invoke(phones_rekey)
