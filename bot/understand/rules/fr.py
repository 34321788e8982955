# ruff: noqa: E501
"""French rules."""

from __future__ import annotations

from bot.understand.rules._flags import KEEP

_W = r"(\S+ )"
_FIELD = (
    r"(données|adresse|nom|prénom|numéro|téléphone|e-mail|email|courriel|coordonnées|informations)"
)

# One rule per line: (intent, slug, pattern, weight[, flags]).
# fmt: off
RULES = (
    # access
    ("access", "droit_acces", r"\b(droit d'accès|demande d'accès)\b|\bdemander? (l'|d')?accès\b|\baccès (à|aux) (toutes )?(mes|les) (\S+ )?(données|informations)\b", 0.85),
    ("access", "copie_donnees", rf"\bcopie (de |des |de toutes )?(mes |les |toutes )?{_W}{{0,2}}(données|informations)\b", 0.85),
    ("access", "quelles_donnees", rf"\bquelles (données|informations) {_W}{{0,5}}(détenez|conservez|traitez|avez|possédez)\b", 0.8),
    ("access", "portabilite", r"\bportabilité\b", 0.75),
    # deletion
    ("deletion", "supprimer_donnees", rf"\b(supprimer|supprimez|supprimiez|effacer|effacez|effaciez|suppression|effacement) {_W}{{0,3}}(données|compte|informations|profil)\b", 0.9),
    ("deletion", "droit_oubli", r"\bdroit (à l'effacement|à l'oubli|de suppression)\b", 0.85),
    ("deletion", "fermer_compte", r"\b(fermer|clôturer|clôturez|fermez) mon compte\b", 0.7),
    # correction
    ("correction", "rectifier", rf"\b(rectification|rectifier|rectifiez|corriger|corrigez|modifier|modifiez|mettre à jour|mettez à jour|changer|changez) {_W}{{0,3}}{_FIELD}\b", 0.85),
    ("correction", "nouvelle_adresse", r"\bmon nouveau (numéro|nom|téléphone)\b|\bma nouvelle (adresse|adresse e-mail)\b|\bmon nouvel (e-mail|email)\b", 0.8),
    ("correction", "donnees_inexactes", rf"\b(données|informations|adresse|nom) {_W}{{0,2}}(incorrecte?s?|erronée?s?|inexacte?s?|obsolètes?|incomplètes?|mal orthographiée?s?|mal écrite?s?)\b", 0.7),
    ("correction", "modifications_suivantes", r"\bmodifications suivantes\b|\bj'ai déménagé\b", 0.5),
    # restriction
    ("restriction", "limitation", r"\blimitation (du|de) (\S+ )?traitement\b|\blimiter (\S+ ){0,3}traitement\b|\bbloquer (mes|les) données\b", 0.85),
    # opt-out / objection
    ("optout", "opposition", rf"\b(m'opposer|je m'oppose|opposition) {_W}{{0,6}}(traitement|prospection|marketing|publicité)", 0.85),
    ("optout", "prospection", r"\b(prospection|marketing direct)\b", 0.55),
    ("optout", "desinscrire", r"\b(désinscri\w+|désabonne\w*|me désinscrire|me désabonner)\b", 0.9),
    ("optout", "ne_plus_recevoir", rf"\bn[e'] ?{_W}?plus {_W}{{0,3}}(recevoir|m'envoyer|envoyer|contacter|me contacter|être contacté)", 0.85, KEEP),
    ("optout", "arretez", r"\b(arrêtez|cessez) (de )?(m'envoyer|m'écrire|me contacter|vos (e-mails|mails|newsletters))", 0.9),
    ("optout", "retirer_consentement", r"\b(retire|retirer|révoque|révoquer) (ce |mon |le )?consentement\b", 0.35),
    # usage report
    ("usage_report", "comment_utilise", rf"\b(comment|à quelles fins|pourquoi) {_W}{{0,4}}(utilisé|utilisées?|traitée?s?|partagée?s?|utilisez|traitez) {_W}{{0,3}}(mes )?données\b", 0.85),
    ("usage_report", "avec_qui", rf"\b(avec qui|à qui) {_W}{{0,5}}(partagé|partagées|transmis|transmises|communiqué|communiquées|vendu|vendues)\b", 0.85),
    ("usage_report", "destinataires", r"\bdestinataires\b", 0.3),
    # project status
    ("project_status", "ou_en_est", rf"\b(où en est|où en sont|état d'avancement|avancement|statut|suivi) {_W}{{0,3}}(commande|projet|modèle|fichier|impression)\b|\boù est ma commande\b", 0.85),
    ("project_status", "quand_pret", rf"\bquand {_W}{{0,5}}(prêt|prête|prêts|terminé|terminée|livré|livrée|expédié|expédiée)\b", 0.85),
    ("project_status", "des_nouvelles", r"\b(des nouvelles|du nouveau)\b", 0.5),
    # new project
    ("new_project", "devis", r"\b(devis|estimation|tarif)\b", 0.75),
    ("new_project", "nouveau_projet", r"\bnouveau projet\b|\bnouvelle commande\b", 0.75),
    ("new_project", "preparer_impression", rf"\b(préparer|optimiser|réparer) {_W}{{0,4}}(pour l'impression|impression 3d|imprimer|pour impression)\b", 0.85),
    ("new_project", "combien", r"\bcombien (coûte|coûterait|ça coûte)\b", 0.6),
    ("new_project", "piece_jointe", r"\b(ci-joint|en pièce jointe|vous trouverez)\b", 0.35),
    # technical question
    ("technical_question", "supprimer_supports", r"\b(supprimer|enlever|retirer|ajouter) (\S+ ){0,2}(supports|structures de support|couches|faces|triangles)\b", 0.9),
    ("technical_question", "vocabulaire", r"\b(supports?|structures? de support|épaisseur de paroi|remplissage|hauteur de couche|couches|maillage|triangles|surplombs?|trancheur|tolérance|résine|format de fichier|échelle|étanche)\b", 0.55),
    ("technical_question", "comment_faire", r"\bcomment (puis-je|faire pour|dois-je)\b|\bquel format\b", 0.5),
    # billing
    ("billing", "facture", r"\b(facture|factures|facturation|avoir n)\b", 0.8),
    ("billing", "paiement", r"\b(paiement|payé|payée|remboursement|rembourser|tva|virement|prélèvement|débité)\b", 0.7),
    # reminder
    ("reminder", "pas_de_reponse", r"\bpas (\S+ ){0,2}(reçu|eu) (de |aucune )?réponse\b|\baucune réponse\b|\bsans réponse\b|\btoujours pas\b", 0.8, KEEP),
    ("reminder", "nouvelle_fois", r"\bje vous (contacte|écris|relance) (une nouvelle fois|à nouveau|de nouveau|encore)\b|\bje reviens vers vous\b", 0.85),
    ("reminder", "relance", r"\b(relance|rappel)\b", 0.6),
    ("reminder", "avertissement", r"\b(avertissement|injonctions?)\b", 0.45),
    ("reminder", "delai_depasse", r"\b(période|délai) (\S+ ){0,10}(dépassée?|expirée?|écoulée?)\b", 0.7),
    # complaint
    ("complaint", "deposer_plainte", r"\b(déposer|dépose|introduire|porter|j'introduis) (\S+ ){0,2}(plainte|réclamation)\b|\bplainte (conformément|selon|en vertu)\b", 0.85),
    ("complaint", "autorite", r"\b(cnil|autorité de contrôle)\b", 0.5),
    # other
    ("other", "absence", r"\b(absente? du bureau|en congés?|réponse automatique|je serai de retour|actuellement absente?)\b", 0.9),
    ("other", "merci", r"^merci( beaucoup)?[ !.]*$", 0.6),
)
# fmt: on
