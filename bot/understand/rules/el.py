# ruff: noqa: E501
"""Greek rules (privacy requests, reminders and complaints)."""

from __future__ import annotations

# One rule per line: (intent, slug, pattern, weight[, flags]).
# fmt: off
RULES = (
    ("access", "prosvasi", r"\b(ζητώ|αίτημα|αιτούμαι|δικαίωμα) (\S+ ){0,2}πρόσβαση\b|\bαντίγραφο (\S+ ){0,3}δεδομένων\b", 0.85),
    ("deletion", "diagrafi", r"\b(διαγραφή|διαγράψτε|διαγραφεί|διαγράψετε) (\S+ ){0,4}(δεδομένων|δεδομένα|λογαριασμού|λογαριασμό)\b|\bδικαίωμα στη λήθη\b", 0.9),
    ("correction", "diorthosi", r"\b(διόρθωση|διορθώσω|διορθώσετε|διορθώστε|διόρθωσης) (\S+ ){0,4}(δεδομένα|δεδομένων|διεύθυνση|όνομα|στοιχεία)\b", 0.85),
    ("restriction", "periorismos", r"\bπεριορισμό (\S+ ){0,2}επεξεργασίας\b", 0.85),
    ("optout", "antirrisi", r"\b(αντιτίθεμαι|εναντιώνομαι|εναντίωση|αντίρρηση) (\S+ ){0,4}επεξεργασία\b|\bάμεσης εμπορικής προώθησης\b|\bδιαγραφή από (τη )?λίστα\b", 0.85),
    ("optout", "anakalo_synkatathesi", r"\bανακαλώ (\S+ ){0,2}συγκατάθεση\b", 0.35),
    ("usage_report", "apodektes", r"\bαποδέκτ\w+\b", 0.3),
    ("reminder", "den_elava", r"\bδεν (έλαβα|έχω λάβει) (\S+ ){0,2}απάντηση\b|\b(επικοινωνώ|γράφω) (\S+ )?ξανά\b|\bυπενθύμιση\b", 0.8),
    ("reminder", "prothesmia", r"\b(περίοδος|προθεσμία) (\S+ ){0,10}(έχει περάσει|έληξε)\b", 0.7),
    ("complaint", "katangelia", r"\b(υποβάλλω|υποβάλω|καταθέτω) (\S+ )?καταγγελία\b", 0.85),
    ("complaint", "epoptiki_archi", r"\bεποπτική αρχή\b|\bαρχή προστασίας δεδομένων\b", 0.5),
)
# fmt: on
