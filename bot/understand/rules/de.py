# ruff: noqa: E501
"""German rules."""

from __future__ import annotations

from bot.understand.rules._flags import KEEP

_W = r"(\S+ )"
_FIELD = r"(adresse|anschrift|postanschrift|lieferadresse|rechnungsadresse|telefonnummer|handynummer|mobilnummer|rufnummer|e-mail-adresse|e-mail|email|mailadresse|namen?|nachnamen?|vornamen?|daten|angaben|kontaktdaten|bankverbindung)"
_OBJ = r"(daten|konto|kundenkonto|benutzerkonto|account|profil|kundenprofil|angaben|informationen)"

# One rule per line: (intent, slug, pattern, weight[, flags]).
# fmt: off
RULES = (
    # access
    ("access", "auskunft_request", r"\b(um|auf) (eine |die )?(vollständige )?(daten|selbst)?auskunft\b|\b(daten|selbst)?auskunft (gemäß|nach|über|zu) ", 0.85),
    ("access", "auskunftsersuchen", r"\b(auskunfts|datenauskunfts|selbstauskunfts)(ersuchen|anfrage|antrag|begehren|recht)\b|\b(selbstauskunft|datenauskunft)\b", 0.8),
    ("access", "kopie_daten", rf"\bkopie (aller|sämtlicher|meiner|der|von allen) {_W}{{0,3}}(daten|informationen)", 0.85),
    ("access", "welche_daten", rf"\bwelche {_W}{{0,2}}(daten|informationen) {_W}{{0,5}}(gespeichert|speichern|haben|verarbeiten|vorliegen|besitzen)\b", 0.8),
    ("access", "daten_zusenden", rf"\b(schicken|senden|übermitteln|geben|übersenden|exportieren) sie mir (bitte )?(alle |sämtliche )?(meine |die )?{_W}{{0,2}}(daten|informationen)\b", 0.8),
    ("access", "datenexport", r"\b(datenexport|datenübertragbarkeit|datenkopie)\b|\b(export|download) (meiner|aller|der) (\S+ )?daten\b|\bmaschinenlesbar", 0.7),
    # deletion
    ("deletion", "loeschung_meiner_daten", r"\blöschung (aller |sämtlicher )?(meiner|der mich betreffenden|mich betreffender|aller|sämtlicher|meines (kunden|benutzer)?(kontos|accounts|profils))\b", 0.9),
    ("deletion", "antrag_loeschung", r"\b(antrag|bitte|ersuche|verlange|fordere|wunsch|beantrage)\b( \S+){0,4} (auf |um |die )?(unverzügliche |sofortige |vollständige )?löschung\b", 0.85),
    ("deletion", "loeschen_sie", rf"\b(löschen|entfernen|vernichten) sie (\S+ ){{0,2}}(alle |sämtliche )?(meine|mich betreffenden|die (über mich )?gespeicherten|mein(en)?|alle|sämtliche) {_W}{{0,2}}{_OBJ}", 0.9),
    ("deletion", "daten_loeschen", rf"\b(meine|alle|sämtliche|mein) {_W}{{0,2}}{_OBJ} {_W}{{0,3}}(zu )?(löschen|entfernen|vernichten)\b", 0.85),
    ("deletion", "konto_loeschen", r"\b(konto|kundenkonto|account|profil|daten) (bitte )?(löschen|entfernen)\b", 0.85),
    ("deletion", "recht_auf_loeschung", r"\brecht auf (löschung|vergessenwerden|vergessen werden)\b", 0.85),
    ("deletion", "konto_aufloesen", r"\b(konto|kundenkonto|account|profil) (bitte )?(auflösen|schließen|kündigen)\b", 0.6),
    ("deletion", "vergessen_sie_mich", r"\bvergessen sie mich\b", 0.7),
    # correction
    ("correction", "berichtigung", r"\b(berichtigung|korrektur|richtigstellung) (\S+ ){0,4}(daten|angaben|adresse|anschrift|namens?)\b|\bantrag auf berichtigung\b|\brecht auf berichtigung\b", 0.9),
    ("correction", "aendern_sie", rf"\b(korrigieren|berichtigen|ändern|aktualisieren|anpassen) sie (bitte )?(meine|meinen|die|den) {_W}{{0,2}}{_FIELD}\b", 0.85),
    ("correction", "feld_aendern", rf"\b(meine|meinen|die|den) {_W}?{_FIELD} {_W}{{0,3}}(zu )?(korrigieren|berichtigen|ändern|aktualisieren|anpassen)\b", 0.85),
    ("correction", "hat_sich_geaendert", rf"\b{_FIELD} hat sich (\S+ )?(geändert|verändert)\b", 0.85),
    ("correction", "meine_neue", r"\bmeine neue (adresse|anschrift|telefonnummer|handynummer|mobilnummer|rufnummer|e-mail-adresse|e-mail|nummer)\b|\bmein neuer (name|nachname)\b", 0.8),
    ("correction", "falsche_daten", rf"\b(falsch|fehlerhaft|unrichtig|veraltet|nicht mehr aktuell)(e|er|en|es|em)? {_W}?{_FIELD}\b|\b{_FIELD} (ist|sind) {_W}{{0,4}}(falsch|fehlerhaft|veraltet|nicht mehr aktuell)\b", 0.7),
    ("correction", "umgezogen", r"\b(umgezogen|neue adresse)\b", 0.5),
    ("correction", "folgende_aenderungen", r"\bfolgende änderungen\b|\bvervollständigung\b", 0.5),
    # restriction
    ("restriction", "einschraenkung", r"\beinschränkung (der|meiner) (\S+ )?(verarbeitung|nutzung)\b|\b(verarbeitung|nutzung) (\S+ ){0,5}einzuschränken\b|\beinschränken sie\b|\bschränken sie (\S+ ){0,6}ein\b", 0.85),
    ("restriction", "sperrung", r"\b(sperrung|sperren sie) (meiner|der|meine|die) (\S+ )?daten\b|\bdaten (bitte )?sperren\b", 0.75),
    # opt-out / objection
    ("optout", "widerspruch_werbung", r"\bwerbewiderspruch\b|\bwiderspruch (\S+ ){0,3}gegen (die |jede )?(\S+ ){0,6}(werbung|direktwerbung|newsletter|verarbeitung|nutzung|werbezwecke)", 0.85),
    ("optout", "widerspreche", r"\bwiderspreche\b", 0.7),
    ("optout", "direktwerbung", r"\b(direktwerbung|werbezwecke|werbezwecken)\b", 0.6),
    ("optout", "abbestellen", r"\b(newsletter|werbe-?(mails?|e-mails?|post|anrufe)|werbung|e-mails|mails) (\S+ ){0,4}(abbestellen|abmelden|kündigen|stoppen|einstellen)\b|\b(abbestellen|abmelden|austragen)\b", 0.85),
    ("optout", "keine_werbung_mehr", r"\bkeine (\S+ ){0,2}(werbung|newsletter|werbe-?mails?|werbe-e-mails|e-mails|mails|angebote|nachrichten|post|anrufe) mehr\b", 0.9, KEEP),
    ("optout", "nicht_mehr_kontaktieren", r"\bnicht (mehr|länger) (\S+ ){0,4}(kontaktieren|anschreiben|zuschicken|zusenden|schicken|erhalten|bekommen|anrufen|bewerben)\b", 0.8, KEEP),
    ("optout", "einwilligung_widerrufen", r"\b(einwilligung|zustimmung|einverständnis) (\S+ ){0,4}(widerrufe|widerrufen|zurückziehen|zurück)\b|\bwiderrufe ich\b", 0.35),
    # usage report
    ("usage_report", "wie_verwendet", rf"\b(wie|wofür|wozu|zu welchem zweck|zu welchen zwecken) {_W}{{0,3}}(meine|meiner) (\S+ )?daten {_W}{{0,4}}(verwendet|genutzt|verarbeitet|benutzt|weitergegeben|verwenden|nutzen)\b", 0.85),
    ("usage_report", "an_wen_weitergegeben", rf"\b(an wen|wem|welche(n)? (dritte|dritten|firmen|unternehmen|empfänger)) {_W}{{0,6}}(weitergegeben|übermittelt|verkauft|offengelegt|geteilt|weitergeleitet)\b", 0.85),
    ("usage_report", "empfaenger_boilerplate", r"\b(empfänger|verarbeitungszwecke)\b", 0.3),
    # project status
    ("project_status", "wie_ist_der_stand", rf"\b(wie ist der|wie sieht es mit|was ist mit|stand|status) {_W}{{0,3}}(auftrag|auftrags|bestellung|projekt|projekts|modell|modells|druck|datei|sp-)", 0.85),
    ("project_status", "wann_fertig", rf"\bwann (ist|wird|kommt|sind|werden|bekomme|erhalte|können|kann) {_W}{{0,5}}(fertig|geliefert|versendet|verschickt|ausgeliefert|bereit|rechnen)\b", 0.85),
    ("project_status", "wo_ist", r"\bwo (ist|bleibt) (meine|mein|unsere|unser|die|der|das) (bestellung|auftrag|projekt|modell|lieferung|paket|datei)\b", 0.9),
    ("project_status", "schon_fertig", r"\b(ist|sind) (mein|meine|unser|unsere|der|die|das) (auftrag|bestellung|projekt|modell|dateien|datei|druck|teile) (schon |bereits |jetzt )?(fertig|versendet|verschickt|unterwegs|bereit|raus)\b", 0.8),
    ("project_status", "neuigkeiten", r"\b(gibt es|irgendwelche) (schon )?(neuigkeiten|updates?)\b|\bzwischenstand\b", 0.6),
    # new project
    ("new_project", "angebot", r"\b(ein|einen|ihr|um ein|für ein|unverbindliches) (\S+ )?angebot\b|\b(kostenvoranschlag|preisangebot|kostenschätzung|preisanfrage)\b", 0.75),
    ("new_project", "was_kostet", r"\bwas (kostet|würde|kosten)\b|\bwie viel kostet\b", 0.6),
    ("new_project", "neues_projekt", r"\b(neues|neuen|weiteres|weiteren) (projekt|auftrag|modell)\b", 0.75),
    ("new_project", "druckfertig", rf"\b(druckfertig|druckbar machen)\b|\b(vorbereiten|aufbereiten|optimieren|reparieren) {_W}{{0,3}}(3d-)?druck\b|\b(für den|zum) (3d-)?druck (vorbereiten|aufbereiten|optimieren|fertig machen)\b", 0.85),
    ("new_project", "anhang", r"\b(im anhang|anbei|angehängt|beigefügt)\b", 0.35),
    # technical question
    ("technical_question", "geometrie_entfernen", r"\b(stützstrukturen|stützen|supports?|schichten|flächen|dreiecke|polygone) (\S+ ){0,3}(entfernen|löschen|weg|hinzufügen)\b|\b(entferne|lösche|entfernen|löschen|entfernt) (ich|man|sie)? ?(die )?(stützstrukturen|stützen|supports|schichten|flächen|dreiecke)\b", 0.9),
    ("technical_question", "druck_vokabular", r"\b(stützstrukturen?|stützen|supports?|wandstärken?|wanddicke|füllung|infill|schichthöhe|schichten|überhänge?|mesh|netz|dreiecke|flächen|polygone?|slicer|toleranz(en)?|düse|harz|dateiformat|maßstab|einheiten|wasserdicht|manifold|normalen)\b", 0.55),
    ("technical_question", "wie_kann_ich", r"\bwie (kann|muss|soll) (ich|man)\b|\bwelches (dateiformat|format)\b", 0.5),
    # billing
    ("billing", "rechnung", r"\b(rechnung|rechnungen|rechnungsnummer|gutschrift|zahlungserinnerung)\b", 0.8),
    ("billing", "zahlung", r"\b(zahlung|bezahlt|bezahlung|überweisung|rückerstattung|erstattung|mwst|mehrwertsteuer|ust-id|lastschrift|abgebucht|zahlungseingang)\b", 0.7),
    # reminder
    ("reminder", "keine_antwort", r"\b(keine|noch keine|bisher keine|bislang keine) (antwort|rückmeldung|reaktion)\b|\b(bisher|noch|bislang) (nichts|nicht) (\S+ ){0,3}(gehört|erhalten|bekommen)\b|\berhielt ich (bisher |bislang |noch )?keine\b", 0.8, KEEP),
    ("reminder", "erneut", r"\b(wende mich|schreibe ihnen|melde mich) (daher |hiermit |nun )*(erneut|nochmals|noch einmal)\b|\bfrage (\S+ ){0,2}(erneut|nochmals) nach\b", 0.85),
    ("reminder", "erinnerung", r"\b(erinnerung|nachfrage)\b", 0.6),
    ("reminder", "mahnung", r"\bmahnung(en)?\b", 0.45),
    ("reminder", "warte_noch", r"\bwarte (immer )?noch\b|\bimmer noch nicht\b", 0.75, KEEP),
    ("reminder", "frist_verstrichen", r"\bfrist (\S+ ){0,8}(überschritten|abgelaufen|verstrichen)\b", 0.7),
    ("reminder", "meine_anfrage_vom", r"\b(meine|meiner) (anfrage|e-mail|nachricht|mail) vom\b", 0.6),
    # complaint
    ("complaint", "beschwerde_einreichen", r"\bbeschwerde (\S+ ){0,6}(einreichen|einlegen|erheben|ein)\b|\bmit dieser beschwerde\b|\bbeschwere mich\b", 0.85),
    ("complaint", "beschwerde_nach", r"\bbeschwerde (nach|gemäß) (art|§)", 0.85),
    ("complaint", "aufsichtsbehoerde", r"\b(datenschutzaufsichtsbehörde|aufsichtsbehörde|datenschutzbehörde|landesdatenschutzbeauftragten?|datenschutzbeauftragten?|bfdi)\b", 0.5),
    ("complaint", "melden", r"\b(melden|anzeigen) (\S+ ){0,3}(aufsichtsbehörde|datenschutzbehörde|behörde)\b", 0.7),
    # other: auto-replies
    ("other", "abwesenheit", r"\b(abwesenheitsnotiz|automatische antwort|nicht im büro|außer haus|im urlaub|abwesend|keinen zugriff auf (meine )?e-mails|bin ab dem|wieder im büro|in dringenden fällen)\b", 0.9),
    ("other", "nur_danke", r"^(vielen )?dank(e)?( schön| sehr)?[ !.]*$", 0.6),
)
# fmt: on
