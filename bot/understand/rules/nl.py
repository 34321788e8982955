# ruff: noqa: E501
"""Dutch rules."""

from __future__ import annotations

from bot.understand.rules._flags import KEEP

_W = r"(\S+ )"
_FIELD = r"(gegevens|persoonsgegevens|adres|naam|achternaam|telefoonnummer|nummer|e-mailadres|emailadres|e-mail)"

# One rule per line: (intent, slug, pattern, weight[, flags]).
# fmt: off
RULES = (
    # access
    ("access", "inzage", rf"\b(recht op (in)?zage|inzageverzoek|recht op toegang)\b|\bverzoek {_W}{{0,2}}om (inzage|toegang)\b|\binzage in {_W}{{0,2}}gegevens\b", 0.85),
    ("access", "kopie_gegevens", rf"\bkopie van {_W}{{0,3}}(gegevens|data|persoonsgegevens)\b", 0.85),
    ("access", "welke_gegevens", rf"\bwelke (persoons)?gegevens {_W}{{0,5}}(heeft|hebt|hebben|bewaart|bewaren|verwerkt|verwerken)\b", 0.8),
    ("access", "portabiliteit", r"\b(dataportabiliteit|overdraagbaarheid)\b", 0.75),
    # deletion
    ("deletion", "verwijder_gegevens", rf"\b(verwijder|verwijderen|verwijdert|wis|wissen|verwijdering|wissing|vernietig|vernietigen) {_W}{{0,3}}(gegevens|persoonsgegevens|account|profiel|data)\b", 0.9),
    ("deletion", "gegevens_verwijderen", rf"\b(mijn|alle) {_W}{{0,2}}(gegevens|persoonsgegevens|account|profiel) {_W}{{0,3}}(verwijderen|verwijdert|wissen|wist)\b", 0.85),
    ("deletion", "recht_vergetelheid", r"\brecht op (vergetelheid|verwijdering|gegevenswissing)\b", 0.85),
    # correction
    ("correction", "rectificatie", r"\b(rectificatie|correctie) (\S+ ){0,4}(gegevens|adres|naam)\b|\brecht op rectificatie\b", 0.85),
    ("correction", "wijzig_veld", rf"\b(corrigeer|corrigeren|wijzig|wijzigen|pas|aanpassen|bijwerken|verbeter|verbeteren|verander|veranderen) {_W}{{0,2}}{_FIELD}\b|\b(mijn|het|de) {_W}?{_FIELD} {_W}{{0,3}}(wijzigen|aanpassen|corrigeren|bijwerken|veranderen|verbeteren)\b", 0.85),
    ("correction", "mijn_nieuwe", r"\bmijn nieuwe (adres|telefoonnummer|e-mailadres|emailadres|naam|nummer)\b", 0.8),
    ("correction", "onjuiste_gegevens", rf"\b(onjuiste|foutieve|verkeerde|verouderde) {_W}?{_FIELD}\b", 0.7),
    ("correction", "volgende_wijzigingen", r"\bvolgende wijzigingen\b|\bik ben verhuisd\b", 0.5),
    # restriction
    ("restriction", "beperking", r"\bbeperking van (de )?(\S+ )?verwerking\b|\bverwerking (\S+ ){0,3}beperken\b", 0.85),
    # opt-out / objection
    ("optout", "bezwaar", rf"\bbezwaar {_W}{{0,6}}(verwerking|direct marketing|marketing|reclame)", 0.85),
    ("optout", "afmelden", r"\b(afmelden|uitschrijven|uitschrijving|schrijf mij uit|meld mij af)\b", 0.85),
    ("optout", "geen_reclame_meer", rf"\b(geen|niet langer) {_W}{{0,3}}(nieuwsbrieven?|reclame|e-mails|mails|marketing|aanbiedingen)( meer)?\b", 0.85, KEEP),
    ("optout", "stop_met_sturen", r"\bstop (met )?(het )?(sturen|mailen|versturen|benaderen)\b", 0.9),
    ("optout", "toestemming_intrekken", r"\btrek (\S+ ){0,3}toestemming (\S+ )?in\b|\btoestemming in te trekken\b", 0.35),
    # usage report
    ("usage_report", "hoe_gebruikt", rf"\b(hoe|waarvoor|met welk doel) {_W}{{0,5}}(gegevens|data) {_W}{{0,3}}(gebruikt|verwerkt|gedeeld)\b", 0.85),
    ("usage_report", "met_wie", rf"\b(met wie|aan wie) {_W}{{0,5}}(gedeeld|verkocht|verstrekt|doorgegeven)\b", 0.85),
    ("usage_report", "ontvangers", r"\bontvangers\b", 0.3),
    # project status
    ("project_status", "status_bestelling", rf"\b(status|stand van zaken|voortgang) (van|over) {_W}{{0,2}}(bestelling|project|model|opdracht|order)\b|\bwaar is (mijn|onze|de) (bestelling|order|project|pakket|model)\b", 0.85),
    ("project_status", "hoe_staat_het", r"\bhoe staat het (\S+ )?(met|ervoor met) (\S+ ){0,2}(bestelling|order|project|opdracht|model)\b|\bal (verzonden|klaar|geleverd)\b", 0.85),
    ("project_status", "wanneer_klaar", rf"\bwanneer {_W}{{0,5}}(klaar|verzonden|geleverd|gereed)\b", 0.85),
    ("project_status", "nieuws", r"\b(al )?nieuws\b", 0.4),
    # new project
    ("new_project", "offerte", r"\b(offerte|prijsopgave)\b", 0.75),
    ("new_project", "nieuw_project", r"\bnieuw (project|opdracht)\b|\bnieuwe (opdracht|bestelling)\b", 0.75),
    ("new_project", "printklaar", rf"\b(voorbereiden|klaarmaken|optimaliseren|repareren) {_W}{{0,4}}(printen|print|3d-print)\b|\bprintklaar\b", 0.85),
    ("new_project", "wat_kost", r"\b(wat kost|hoeveel kost)\b", 0.6),
    ("new_project", "bijlage", r"\b(bijlage|bijgevoegd)\b", 0.35),
    # technical question
    ("technical_question", "supports_verwijderen", r"\b(verwijder|verwijderen|weghalen|haal|toevoegen) (\S+ ){0,2}(supports|ondersteuning|lagen|vlakken|driehoeken)\b|\b(supports|ondersteuning|lagen|vlakken|driehoeken) (\S+ ){0,2}(verwijderen|weghalen)\b", 0.9),
    ("technical_question", "vocabulaire", r"\b(supports|ondersteuning(sstructuren)?|wanddikte|vulling|infill|laaghoogte|lagen|mesh|driehoeken|vlakken|overhang(en)?|tolerantie|hars|bestandsformaat|schaal)\b", 0.55),
    ("technical_question", "hoe_kan_ik", r"\bhoe (kan|moet) ik\b|\bwelk (bestands)?formaat\b", 0.5),
    # billing
    ("billing", "factuur", r"\b(factuur|facturen|factuurnummer|creditnota)\b", 0.8),
    ("billing", "betaling", r"\b(betaling|betaald|terugbetaling|restitutie|btw|overschrijving|afgeschreven)\b", 0.7),
    # reminder
    ("reminder", "geen_antwoord", rf"\b(nog )?geen {_W}{{0,2}}(antwoord|reactie) {_W}{{0,2}}(ontvangen|gehad|gekregen)\b|\bnog geen (antwoord|reactie)\b|\bwacht (nog steeds|nog)\b", 0.8, KEEP),
    ("reminder", "opnieuw_contact", r"\bopnieuw (contact|een e-mail|een bericht)\b|\bneem (\S+ ){0,3}opnieuw contact\b", 0.8),
    ("reminder", "nogmaals", r"\bnogmaals\b", 0.45),
    ("reminder", "herinnering", r"\bherinnering\b", 0.6),
    ("reminder", "vermaning", r"\b(vermaning|vermaningen|aanmaning)\b", 0.45),
    ("reminder", "termijn_overschreden", r"\b(periode|termijn) (\S+ ){0,10}overschreden\b", 0.7),
    # complaint
    ("complaint", "klacht_indienen", rf"\bklacht {_W}{{0,6}}(in te dienen|indienen|in)\b|\bdien {_W}{{0,3}}klacht\b", 0.85),
    ("complaint", "toezichthouder", r"\b(autoriteit persoonsgegevens|toezichthoudende autoriteit|toezichthouder)\b", 0.5),
    # other
    ("other", "afwezig", r"\b(afwezig|met vakantie|automatisch antwoord|buiten kantoor|ben ik weer bereikbaar)\b", 0.9),
    ("other", "bedankt", r"^(hartelijk )?(bedankt|dank je|dank u)( wel)?[ !.]*$", 0.6),
)
# fmt: on
