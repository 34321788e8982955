# ruff: noqa: E501
"""Italian rules."""

from __future__ import annotations

from bot.understand.rules._flags import KEEP

_W = r"(\S+ )"
_FIELD = r"(dati|indirizzo|nome|cognome|numero|telefono|cellulare|email|e-mail|recapiti)"

# One rule per line: (intent, slug, pattern, weight[, flags]).
# fmt: off
RULES = (
    # access
    ("access", "diritto_accesso", r"\b(diritto di accesso|richiesta di accesso)\b|\brichied\w+ (l')?accesso\b|\baccesso ai (miei )?(\S+ )?dati\b", 0.85),
    ("access", "copia_dati", rf"\bcopia (di |dei )?(tutti )?(i )?(miei )?{_W}{{0,2}}dati\b", 0.85),
    ("access", "quali_dati", rf"\bquali (dati|informazioni) {_W}{{0,5}}(avete|conservate|trattate|possedete)\b", 0.8),
    ("access", "portabilita", r"\bportabilità\b", 0.75),
    # deletion
    ("deletion", "cancellare_dati", rf"\b(cancellare|cancellate|cancelliate|cancellazione|eliminare|eliminate|eliminazione|rimuovere|rimuovete) {_W}{{0,4}}(dati|account|profilo|informazioni personali)\b", 0.9),
    ("deletion", "diritto_oblio", r"\bdiritto (all'oblio|alla cancellazione)\b", 0.85),
    ("deletion", "chiudere_account", r"\b(chiudere|chiudete) (il )?mio account\b", 0.7),
    # correction
    ("correction", "rettificare", rf"\b(rettifica|rettificare|rettificate|correggere|correggete|aggiornare|aggiornate|modificare|modificate|cambiare|cambiate) {_W}{{0,3}}{_FIELD}\b", 0.85),
    ("correction", "nuovo_indirizzo", r"\b(il mio nuovo|la mia nuova) (indirizzo|numero|telefono|email|e-mail|nome|cognome|cellulare)\b", 0.8),
    ("correction", "dati_errati", rf"\b(dati|indirizzo|nome) {_W}{{0,2}}(inesatti|inesatto|errati|errato|sbagliati|sbagliato|incompleti|obsoleti)\b", 0.7),
    ("correction", "seguenti_modifiche", r"\bseguenti (cambiamenti|modifiche)\b|\bmi sono trasferit[oa]\b", 0.5),
    # restriction
    ("restriction", "limitazione", r"\blimitazione (del|di) (\S+ )?trattamento\b|\blimitare (\S+ ){0,3}trattamento\b", 0.85),
    # opt-out / objection
    ("optout", "mi_oppongo", rf"\b(mi oppongo|opposizione) {_W}{{0,6}}(trattamento|marketing|pubblicità)", 0.85),
    ("optout", "marketing_diretto", r"\b(marketing diretto|comunicazioni promozionali)\b", 0.55),
    ("optout", "disiscrivere", r"\b(disiscriv\w+|cancellarmi dalla (newsletter|mailing list|lista)|annullare l'iscrizione)\b", 0.9),
    ("optout", "non_voglio_ricevere", rf"\bnon {_W}{{0,2}}(voglio|desidero) più {_W}{{0,2}}ricevere\b|\bnon (voglio|desidero) (\S+ ){0,2}ricevere\b", 0.9, KEEP),
    ("optout", "non_inviarmi_piu", r"\bnon (\S+ ){0,2}(inviarmi|mandarmi|contattarmi|scrivermi) più\b", 0.85, KEEP),
    ("optout", "smettete", r"\bsmettete di (inviarmi|mandarmi|contattarmi|scrivermi)\b", 0.9),
    ("optout", "revoco_consenso", r"\brevoco (\S+ ){0,2}consenso\b", 0.35),
    # usage report
    ("usage_report", "come_usati", rf"\b(come|per quali (scopi|finalità)) {_W}{{0,4}}(usato|utilizzato|utilizzati|usati|trattati|condiviso|condivisi) {_W}{{0,3}}dati\b", 0.85),
    ("usage_report", "con_chi", rf"\b(con chi|a chi) {_W}{{0,4}}(condiviso|condivisi|ceduto|ceduti|comunicato|comunicati|venduto|venduti)\b", 0.85),
    ("usage_report", "destinatari", r"\bdestinatari\b", 0.3),
    # project status
    ("project_status", "stato_ordine", rf"\b(stato|situazione|avanzamento) (del|dell'|di) ?{_W}{{0,2}}(ordine|progetto|modello|lavoro)\b|\bdov'è (il mio|l')? ?(ordine|pacco|progetto)\b", 0.85),
    ("project_status", "quando_pronto", rf"\bquando {_W}{{0,5}}(pronto|pronta|pronti|finito|finita|spedito|spedita|consegnato|consegnata)\b", 0.85),
    ("project_status", "novita", r"\b(novità|aggiornamenti)\b", 0.5),
    # new project
    ("new_project", "preventivo", r"\b(preventivo|quotazione)\b", 0.75),
    ("new_project", "nuovo_progetto", r"\bnuovo (progetto|ordine|lavoro)\b", 0.75),
    ("new_project", "preparare_stampa", rf"\b(preparare|ottimizzare|riparare) {_W}{{0,4}}(stampa|stampare)\b", 0.85),
    ("new_project", "quanto_costa", r"\bquanto (costa|costerebbe)\b", 0.6),
    ("new_project", "allegato", r"\b(allegato|allegati|in allegato)\b", 0.35),
    # technical question
    ("technical_question", "rimuovere_supporti", r"\b(rimuovere|eliminare|togliere|cancellare|aggiungere) (\S+ ){0,2}(supporti|strati|facce|triangoli)\b", 0.9),
    ("technical_question", "vocabolario", r"\b(supporti|strutture di supporto|spessore (della )?parete|riempimento|altezza (dello )?strato|strati|mesh|triangoli|facce|sbalzi|tolleranz[ae]|resina|formato (del )?file|scala)\b", 0.55),
    ("technical_question", "come_posso", r"\bcome (posso|devo|faccio)\b|\bquale formato\b", 0.5),
    # billing
    ("billing", "fattura", r"\b(fattura|fatture|fatturazione)\b", 0.8),
    ("billing", "pagamento", r"\b(pagamento|pagato|rimborso|addebit\w+|iva|bonifico)\b", 0.7),
    # reminder
    ("reminder", "nessuna_risposta", r"\bnon (ho )?(ancora )?ricevuto (\S+ ){0,2}risposta\b|\bnessuna risposta\b|\bancora in attesa\b", 0.8, KEEP),
    ("reminder", "non_ancora", r"\bnon ho ancora ricevuto\b", 0.45, KEEP),
    ("reminder", "nuovamente", r"\bvi (sto )?(contatt\w+|scriv\w+) (nuovamente|di nuovo|ancora)\b", 0.85),
    ("reminder", "sollecito", r"\b(sollecito|promemoria)\b", 0.6),
    ("reminder", "ammonizione", r"\bammonizion[ei]\b", 0.45),
    ("reminder", "periodo_superato", r"\b(periodo|termine) (\S+ ){0,10}(superato|scaduto)\b", 0.7),
    # complaint
    ("complaint", "reclamo", r"\b(sporgo|sporgere|presentare|presento|presentato) (\S+ ){0,2}(reclamo|denuncia)\b", 0.85),
    ("complaint", "garante", r"\b(garante (della|per la) (privacy|protezione dei dati)|autorità di controllo)\b", 0.5),
    # other
    ("other", "fuori_ufficio", r"\b(fuori ufficio|in ferie|risposta automatica|sarò di ritorno|assente dall'ufficio)\b", 0.9),
    ("other", "grazie", r"^grazie( mille)?[ !.]*$", 0.6),
)
# fmt: on
