"""Demo clients and projects so a newcomer can try a request end to end in a minute."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import func, select

from bot.context import App
from storage import models
from storage.db import audit, unit_of_work

DEMO_CLIENTS = (
    ("Jane Example", "jane@example.com", "+1 941 555 0100", "12 Harbor Rd, Sarasota, FL"),
    ("Max Mustermann", "max@example.de", "+49 30 1234567", "Musterstr. 1, 10115 Berlin"),
    ("Camille Exemple", "camille@example.fr", "+33 1 23 45 67 89", "1 rue de l'Exemple, Paris"),
)


def seed_demo(app: App) -> bool:
    """Insert demo data into an empty database; returns False if clients already exist."""
    with app.write_lock, unit_of_work(app.engine) as session:
        if session.exec(select(func.count()).select_from(models.Client)).one():
            return False
        now = app.clock.now()
        for n, (name, email, phone, address) in enumerate(DEMO_CLIENTS, start=1):
            client = models.Client(name=name, phone=phone, business_address=address,
                                   created_at=now - timedelta(days=400), last_active_at=now)
            session.add(client)
            session.flush()
            session.add(models.ClientEmail(client_id=client.id, address=email, is_primary=True))
            project = models.Project(
                reference=f"SP-2025-{40 + n:04d}", client_id=client.id,
                title=f"Bracket set {n}", specs="Prusa MK4, PETG, 0.2 mm layers",
                printer="Prusa MK4", material="PETG", status="in_progress",
                created_at=now - timedelta(days=20), updated_at=now - timedelta(days=2),
                promised_delivery=now + timedelta(days=5),
            )
            session.add(project)
            session.flush()
            session.add(models.Invoice(number=f"{1186 + n}", client_id=client.id,
                                       project_id=project.id, amount_cents=12000 * n,
                                       issued_at=now - timedelta(days=60), status="paid"))
            session.add(models.Disclosure(client_id=client.id, recipient="Stripe (payments)",
                                          categories="name, email, invoice amounts",
                                          purpose="payment processing",
                                          disclosed_at=now - timedelta(days=60)))
            session.add(models.WebsiteUsage(client_id=client.id, path="/quote",
                                            occurred_at=now - timedelta(days=30)))
        audit(session, "demo.seeded", at=now, actor="cli", clients=len(DEMO_CLIENTS))
    return True
