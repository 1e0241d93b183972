"""Operator commands: `flask --app wsgi plan import FILE`, `calendar load FILE | show YEAR`, `staff create`,
`dev seed`."""
import click
from flask import current_app

from app import cache
from app.errors import DomainError


def register_cli(app):
    app.cli.add_command(plan_group)
    app.cli.add_command(calendar_group)
    app.cli.add_command(staff_group)
    app.cli.add_command(dev_group)


@click.group("plan", help="民生实事计划")
def plan_group():
    pass


@plan_group.command("import", help="导入或更新一个年度计划（可重复执行）")
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
@click.option("--role", required=True, type=click.Choice(["unit_staff", "unit_admin", "office", "admin"]))
@click.option("--unit", "unit_name", help="所属单位名称，如 县民政局")
@click.option("--name", "display_name", help="显示名称")
def staff_create(username, password, role, unit_name, display_name):
    from app.accounts.service import create_staff

    try:
        staff = create_staff(username, password, role, unit_name, display_name)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"已创建账号 {staff.username}（{staff.role}{'，' + staff.unit.name if staff.unit else ''}）")


DEV_PASSWORD = "minsheng2024"


@click.group("dev", help="开发环境辅助命令")
def dev_group():
    pass


@dev_group.command("seed", help="创建开发账号：admin、office，以及每个牵头单位一个 unitN 账号")
def dev_seed():
    from app.accounts.models import StaffUser, Unit
    from app.accounts.service import create_staff
    from app.extensions import db

    if current_app.config["APP_ENV"] == "production":
        raise click.ClickException("生产环境不创建开发账号。")
    from app.common.timeutil import utcnow

    existing = {s.username: s for s in db.session.execute(db.select(StaffUser)).scalars()}
    wanted = [("admin", "admin", None), ("office", "office", None)]
    units = db.session.execute(db.select(Unit).order_by(Unit.id)).scalars().all()
    wanted += [(f"unit{u.id}", "unit_staff", u.name) for u in units]
    created = 0
    for username, role, unit_name in wanted:
        if username not in existing:
            # The one place the password rules do not apply: development accounts with a known password.
            create_staff(username, DEV_PASSWORD, role, unit_name, must_change=False, check_rules=False)
            created += 1
        elif not existing[username].must_change_password:
            # `make run` seeds on every start, so the development accounts never reach PASSWORD_MAX_AGE_DAYS.
            existing[username].password_changed_at = utcnow()
    db.session.commit()
    click.echo(f"开发账号：新建 {created} 个，密码均为 {DEV_PASSWORD}（admin、office、unit<单位id>）")


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
    click.echo(f"服务地址：http://{host}:{port}/  接口文档：http://{host}:{port}/api/v1/docs")
    # app.run() refuses to run inside a flask CLI command; the same server, started directly.
    from werkzeug.serving import run_simple

    run_simple(host, port, current_app._get_current_object(), threaded=True, use_reloader=False)
