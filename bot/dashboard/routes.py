"""The dashboard's pages and forms. Every page but /login needs a session; every form carries
the session's CSRF token. URLs hold case references, filter names and row ids, never
addresses or search text (search is a POST)."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.cases import case_by_ref
from bot.context import App
from bot.dashboard import actions, auth, queries, report
from bot.dashboard.charts import bar_chart
from storage.db import unit_of_work

SESSION_COOKIE = "dash_session"
LOGIN_CSRF_COOKIE = "dash_login_csrf"
Handler = Callable[["Dashboard", Request, auth.StaffUser], Awaitable[Response]]


def staff_only(handler: Handler) -> Callable[[Dashboard, Request], Awaitable[Response]]:
    """Redirect to the login page unless the request carries a valid session."""
    async def wrapper(self: Dashboard, request: Request) -> Response:
        user = await run_in_threadpool(auth.current_user, self.app,
                                       request.cookies.get(SESSION_COOKIE))
        if user is None:
            return RedirectResponse("/login", status_code=303)
        return await handler(self, request, user)
    return wrapper


class Dashboard:
    """Routes bound to the App; `wake_outbox` tells the daemon a reply was queued."""

    def __init__(self, app: App, wake_outbox: Callable[[], None]) -> None:
        self.app = app
        self.wake_outbox = wake_outbox
        settings = app.settings
        self.limiter = auth.LoginLimiter(settings.dashboard_login_attempts,
                                         timedelta(minutes=settings.dashboard_login_window_minutes))
        self._flash: dict[int, str] = {}

    def routes(self) -> list[Route]:
        return [
            Route("/", self.home), Route("/login", self.login_page, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/cases", self.cases), Route("/cases/search", self.search, methods=["POST"]),
            Route("/cases/{ref}", self.case), Route("/cases/{ref}/action", self.case_action,
                                                    methods=["POST"]),
            Route("/inbound", self.inbound),
            Route("/inbound/{inbound_id:int}/{verb}", self.inbound_action, methods=["POST"]),
            Route("/report", self.report), Route("/report.csv", self.report_csv),
        ]

    # ------------------------------------------------------------------ rendering

    def page(self, template: str, user: auth.StaffUser | None, status_code: int = 200,
             **ctx: Any) -> HTMLResponse:
        flash = self._flash.pop(user.id, "") if user else ""
        html = self.app.renderer.env.get_template(f"dashboard/{template}.html.j2").render(
            user=user, flash=flash, company=self.app.settings.company_name, **ctx)
        return HTMLResponse(html, status_code=status_code)

    async def checked_form(self, request: Request, user: auth.StaffUser) -> FormData:
        form = await request.form()
        if not hmac.compare_digest(str(form.get("csrf", "")), user.csrf_token):
            raise HTTPException(403, "bad or missing CSRF token")
        return form

    # ------------------------------------------------------------------ login

    async def login_page(self, request: Request) -> Response:
        token = secrets.token_urlsafe(32)
        response = self.page("login", None, csrf=token, error="")
        self._cookie(response, LOGIN_CSRF_COOKIE, token, max_age=3600)
        return response

    async def login(self, request: Request) -> Response:
        form = await request.form()
        cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not cookie or not hmac.compare_digest(str(form.get("csrf", "")), cookie):
            raise HTTPException(403, "bad or missing CSRF token")
        username = str(form.get("username", "")).strip().lower()
        keys = [f"user:{username}", f"client:{request.client.host if request.client else ''}"]
        now = self.app.clock.now()
        if self.limiter.blocked(keys, now):
            await run_in_threadpool(auth.record_blocked, self.app, username)
            return self.page("login", None, 429, csrf=cookie,
                             error="Too many failed logins. Try again later.")
        token = await run_in_threadpool(auth.log_in, self.app, username,
                                        str(form.get("password", "")))
        if token is None:
            self.limiter.failed(keys, now)
            return self.page("login", None, 401, csrf=cookie,
                             error="Wrong user name or password.")
        self.limiter.succeeded(keys[0])
        response = RedirectResponse("/cases", status_code=303)
        self._cookie(response, SESSION_COOKIE, token,
                     max_age=int(self.app.settings.dashboard_session_hours * 3600))
        response.delete_cookie(LOGIN_CSRF_COOKIE)
        return response

    @staff_only
    async def logout(self, request: Request, user: auth.StaffUser) -> Response:
        await self.checked_form(request, user)
        await run_in_threadpool(auth.log_out, self.app, request.cookies[SESSION_COOKIE])
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    def _cookie(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict",
                            secure=self.app.settings.dashboard_secure_cookies, path="/")

    # ------------------------------------------------------------------ cases

    @staff_only
    async def home(self, request: Request, user: auth.StaffUser) -> Response:
        return RedirectResponse("/cases", status_code=303)

    @staff_only
    async def cases(self, request: Request, user: auth.StaffUser) -> Response:
        params = request.query_params
        view = params.get("view", "open")
        flt = queries.CaseFilter(view=view if view in queries.VIEWS else "open",
                                 right=params.get("right", ""), channel=params.get("channel", ""))
        rows, kinds, channels = await run_in_threadpool(self._case_list, flt)
        return self.page("cases", user, rows=rows, flt=flt, views=queries.VIEWS, kinds=kinds,
                         channels=channels, searched=False, limit=queries.LIST_LIMIT)

    def _case_list(self, flt: queries.CaseFilter) -> tuple[list[queries.CaseRow], list[str],
                                                          list[str]]:
        with unit_of_work(self.app.engine) as session:
            kinds, channels = queries.filter_choices(session)
            return queries.list_cases(session, flt, self.app.clock.now()), kinds, channels

    @staff_only
    async def search(self, request: Request, user: auth.StaffUser) -> Response:
        form = await self.checked_form(request, user)

        def run() -> tuple[list[queries.CaseRow], list[str], list[str]]:
            with unit_of_work(self.app.engine) as session:
                kinds, channels = queries.filter_choices(session)
                found = queries.search_cases(session, str(form.get("q", "")),
                                             self.app.clock.now())
                return found, kinds, channels

        rows, kinds, channels = await run_in_threadpool(run)
        return self.page("cases", user, rows=rows, flt=queries.CaseFilter(view="all"),
                         views=queries.VIEWS, kinds=kinds, channels=channels, searched=True,
                         limit=queries.LIST_LIMIT)

    @staff_only
    async def case(self, request: Request, user: auth.StaffUser) -> Response:
        def load() -> queries.CaseDetail | None:
            with unit_of_work(self.app.engine) as session:
                found = case_by_ref(session, request.path_params["ref"])
                return None if found is None else queries.case_detail(
                    session, found, self.app.clock.now())

        detail = await run_in_threadpool(load)
        if detail is None:
            return self.page("not_found", user, 404, what="case")
        return self.page("case", user, d=detail, identity=queries.identity_state(
            {c.status for c in detail.codes}))

    @staff_only
    async def case_action(self, request: Request, user: auth.StaffUser) -> Response:
        form = await self.checked_form(request, user)
        ref = request.path_params["ref"]
        try:
            result = await run_in_threadpool(
                actions.run_case_action, self.app, user, ref, str(form.get("action", "")),
                str(form.get("text", "")), str(form.get("days", "")))
        except actions.ActionError as exc:
            result = f"not done: {exc}"
        self.wake_outbox()
        self._flash[user.id] = result
        return RedirectResponse(f"/cases/{ref.upper()}", status_code=303)

    # ------------------------------------------------------------------ inbound

    @staff_only
    async def inbound(self, request: Request, user: auth.StaffUser) -> Response:
        status = request.query_params.get("status", "quarantined")
        status = status if status in queries.INBOUND_QUEUES else "quarantined"

        def load() -> tuple[list[Any], dict[str, int]]:
            with unit_of_work(self.app.engine) as session:
                return (queries.inbound_queue(session, status), queries.inbound_counts(session))

        rows, counts = await run_in_threadpool(load)
        return self.page("inbound", user, rows=rows, status=status, counts=counts,
                         queues=queries.INBOUND_QUEUES)

    @staff_only
    async def inbound_action(self, request: Request, user: auth.StaffUser) -> Response:
        form = await self.checked_form(request, user)
        inbound_id, verb = request.path_params["inbound_id"], request.path_params["verb"]
        run = {"process": actions.process_now, "release": actions.release}.get(verb)
        if run is None:
            raise HTTPException(404)
        try:
            self._flash[user.id] = await run_in_threadpool(run, self.app, user, inbound_id)
        except actions.ActionError as exc:
            self._flash[user.id] = f"not done: {exc}"
        self.wake_outbox()
        back = str(form.get("back", "quarantined"))
        back = back if back in queries.INBOUND_QUEUES else "quarantined"
        return RedirectResponse(f"/inbound?status={back}", status_code=303)

    # ------------------------------------------------------------------ report

    @staff_only
    async def report(self, request: Request, user: auth.StaffUser) -> Response:
        data = await run_in_threadpool(report.build_report, self.app)
        chart = bar_chart(data.months, data.rights, data.per_month,
                          title="Requests per month by right")
        close_chart = bar_chart(data.months, ["days"], {
            m: {"days": v} for m, v in data.median_by_month.items()},
            title="Median days to close, by month received")
        return self.page("report", user, r=data, chart=chart, close_chart=close_chart)

    @staff_only
    async def report_csv(self, request: Request, user: auth.StaffUser) -> Response:
        text = await run_in_threadpool(report.register_csv, self.app)
        stamp = self.app.clock.now().strftime("%Y%m%d")
        return Response(text, media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="requests-{stamp}.csv"'})
