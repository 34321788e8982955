# ruff: noqa: E501
"""English rules."""

from __future__ import annotations

from bot.understand.rules._flags import KEEP

_DATA = r"(personal )?(data|information|info|details|records)"
_MY_DATA = r"(my|our|the) (personal |stored |customer |user )?(data|account|information|info|details|profile|records|e-?mail address|contact details|customer account|user account)\b"
_FIELD = r"(name|surname|last name|first name|phone|phone number|telephone( number)?|mobile( number)?|number|(postal |billing |delivery |shipping |home |e-?mail )?address|e-?mail|details|contact details|personal details|data|information|record)"
_TECH = r"(support structures?|supports?|layers?|faces|triangles|vertices|edges|polygons|brim|raft|infill)"

# One rule per line: (intent, slug, pattern, weight[, flags]).
# fmt: off
RULES = (
    # access / portability
    ("access", "copy_of_data", r"\b(copy|export|download|dump|archive) of (all |any and all |any )?(of )?(the |my |your )?(personal |stored )?(data|information|info|records)", 0.85),
    ("access", "what_data_you_hold", r"\b(what|which) (personal )?(data|information|info) (do |does )?(you|your company) (have|hold|store|keep|process|collect)", 0.85),
    ("access", "right_of_access", r"\bright (of|to) access\b|\bdata access right\b|\bright to know\b", 0.8),
    ("access", "subject_access_request", r"\b(data|subject|data subject) access request\b|\bdsar\b", 0.85),
    ("access", "request_access", r"\b(request(ing)?|ask(ing)? for|exercis\w+ my right of) access\b(?! to (the |my |your )?(file|account|portal|link|download|model|folder))", 0.85),
    ("access", "send_me_my_data", rf"\b(send|give|provide|email|e-mail|mail) me (with )?(a copy of )?(all )?(the |my )?{_DATA} (you|that you|which you)", 0.8),
    ("access", "send_me_my_data_short", rf"\b(send|give|email|e-mail|mail) me (all )?(of )?my {_DATA}\b", 0.75),
    ("access", "my_data_export", r"\b(download|export|get) (all )?(of )?my (personal )?(data|information)\b", 0.85),
    ("access", "data_you_hold_about_me", r"\b(data|information|info|details|records) (that |which )?you (have|hold|store|keep|process|collect)(ed)? (about|on|of|concerning) me\b", 0.75),
    ("access", "portability", r"\b(portability|data portability|machine-readable format|machine readable format)\b", 0.6),
    # deletion
    ("deletion", "delete_my_data", rf"\b(delete|deletes|deleting|erase|erasing|remove|removing|wipe|purge|destroy) (all |any |the following |everything (that )?)?(of )?{_MY_DATA}", 0.9),
    ("deletion", "delete_all_info", rf"\b(delete|deletes|erase|erases) all (of )?(the )?{_DATA}", 0.85),
    ("deletion", "delete_everything_about_me", r"\b(delete|erase|remove) everything (you have |you hold |you store )?(about|on|of) me\b", 0.9),
    ("deletion", "delete_me_from", r"\b(delete|erase|remove) me from (your|the|all) (database|system|records|crm|customer database|files)", 0.9),
    ("deletion", "request_erasure", r"\b(request(ing)?|ask(ing)? for|demand(ing)?|want|like) (the )?(immediate |complete |permanent |full )?(erasure|deletion)\b", 0.9),
    ("deletion", "erasure_of_my_data", r"\b(erasure|deletion) of (all )?(my|the) (personal )?(data|account|information|profile)", 0.85),
    ("deletion", "right_to_erasure", r"\bright to (erasure|be forgotten|delete|deletion)\b", 0.85),
    ("deletion", "close_account", r"\b(close|terminate|cancel) (and delete )?my (customer |user )?account\b", 0.6),
    ("deletion", "want_it_deleted", r"\bmy (personal |customer |user )?(data|account|information|profile|details|records) (to be )?(deleted|erased|removed|wiped)\b", 0.85),
    ("deletion", "forget_me", r"\bforget (about )?me\b", 0.7),
    ("deletion", "dont_keep_my_data", r"\b(don't|do not) want you to (keep|store|hold|have) (any of )?my (data|information)", 0.85, KEEP),
    # correction
    ("correction", "request_rectification", r"\b(request(ing)?|ask(ing)? for) (the )?(rectification|correction)\b|\bright to rectification\b", 0.9),
    ("correction", "rectification_of_data", r"\b(rectification|correction)( or completion)? of (my |the |inaccurate |incorrect |incomplete )*(personal )?(data|details|information|address|name)", 0.85),
    ("correction", "change_my_field", rf"\b(correct|update|change|fix|amend|edit|modify) (the |my )(billing |postal |delivery |shipping |home |e-?mail )?{_FIELD}\b", 0.85),
    ("correction", "my_field_changed", rf"\bmy (new )?{_FIELD} (is now|has changed|changed|should be|is wrong|is incorrect|is misspelt|is misspelled|is out of date)", 0.85),
    ("correction", "my_new_field", r"\bmy new (phone|telephone|mobile|address|postal address|e-?mail|name|surname|number)\b", 0.8),
    ("correction", "wrong_data", r"\b(wrong|incorrect|inaccurate|outdated|misspelt|misspelled|out of date) (personal )?(data|details|information|address|name|phone number|e-?mail)", 0.7),
    ("correction", "following_changes", r"\bmake the following changes\b", 0.6),
    ("correction", "i_moved", r"\bi (have )?(moved|relocated)\b", 0.5),
    # restriction
    ("restriction", "restrict_processing", r"\brestrict(ion of)? (the )?(processing|use)\b|\bright to restriction\b", 0.85),
    ("restriction", "limit_use", r"\b(limit|restrict|pause|suspend|freeze|block) (the |any )?(processing|use|using) (of )?(my|our) (personal )?(data|information)", 0.8),
    ("restriction", "stop_processing", r"\b(stop|cease) (processing|using) my (personal )?(data|information)", 0.7),
    ("restriction", "block_my_data", r"\b(block|lock|freeze) my (personal )?(data|information)\b", 0.75),
    # opt-out / objection to direct marketing
    ("optout", "stop_sending", r"\b(stop|cease|quit) (sending|emailing|e-mailing|contacting|mailing|spamming|calling)( me)?\b", 0.9),
    ("optout", "no_longer_receive", r"\b(no longer|don't|do not|never) (want|wish|like|need) to (receive|get|be contacted)", 0.85, KEEP),
    ("optout", "dont_send_marketing", r"\b(don't|do not|never) (send|email|e-mail) me (any )?(more )?(newsletters?|marketing|promotional|promotions|advertising|ads|offers|spam|e-?mails|mails)", 0.9, KEEP),
    ("optout", "remove_from_list", r"\b(remove|take|delete) (me|my (e-?mail )?address) (off|from) (your|the|all|any) (\w+ )?(mailing|marketing|newsletter|e-?mail|distribution|contact) ?lists?", 0.9),
    ("optout", "direct_marketing", r"\bdirect marketing\b", 0.6),
    ("optout", "object_to_processing", r"\bobject(ing|ion)? to (the )?(processing|use)\b", 0.7),
    ("optout", "marketing_mail", r"\b(marketing|promotional|advertising) (e-?mails?|mails?|messages|communications?|calls)\b", 0.55),
    ("optout", "do_not_sell", r"\bdo not sell\b", 0.8),
    ("optout", "withdraw_consent", r"\b(withdraw|withdrawing|revoke|revoking) (my |said |the |this )?consent\b", 0.35),
    # usage report
    ("usage_report", "how_used", rf"\b(how|for what purposes?|why) (have |has |do |did |are |is |were )?(you |your company )?(been )?(used|use|using|process(ed|ing)?|shared?|sharing|disclosed?|sold|selling) (of )?my {_DATA}", 0.85),
    ("usage_report", "who_received", r"\b(who|which (third )?part(y|ies)|which companies|whom) (have |has |do |did )?(you )?(shared?|sold|disclosed?|passed on|transferred|given|sent) (my )?(personal )?(data|information|details)\b", 0.85),
    ("usage_report", "who_received_passive", r"\b(who|which (third )?part(y|ies)|which companies|which organi[sz]ations) (has |have |did )?(received|got|obtained|had access to|been given) (my|our) (personal )?(data|information|details)\b|\bfor what purposes? (do |does |did )?(you|your company) (process|use)\b", 0.85),
    ("usage_report", "have_you_shared", r"\bhave you (\S+ ){0,3}(sold|passed on|shared|disclosed|given away|transferred|sent) (\S+ ){0,3}my\b", 0.85),
    ("usage_report", "with_whom_shared", r"\bwith whom (have |has )?(you |it )?(been )?(shared|disclosed)\b", 0.85),
    ("usage_report", "how_data_was_used", rf"\bhow (my|our) {_DATA} (was|were|is|are|has been|have been) (used|shared|processed|disclosed)\b", 0.85),
    ("usage_report", "who_you_shared_with", r"\bwho (you |have you |did you )?(shared|disclosed|gave|sold|passed) (it|them|my (personal )?(data|information|details)) (with|to)\b", 0.85),
    ("usage_report", "list_of_recipients", r"\b(list|overview|report) of (all )?(the )?(recipients|third parties|processing activities|purposes)\b", 0.7),
    ("usage_report", "recipients_boilerplate", r"\brecipients (or categories of recipients? )?to whom\b|\bpurposes of the processing\b", 0.3),
    # project status
    ("project_status", "where_is_my_order", r"\b(where|what) is (the status of )?(my|our) (order|project|model|job|print|files?|parts?|delivery|package|shipment)\b", 0.85),
    ("project_status", "status_of", r"\b(status|progress|update|eta|news) (of|on|for|about|regarding) (\S+ ){0,3}(order|project|model|job|print|files?|sp-)", 0.8),
    ("project_status", "any_news", r"\bany (news|update|updates|progress)\b", 0.6),
    ("project_status", "when_ready", r"\bwhen (will|can|do|does|would|should) (i|we|you|my|our|the|it)( \w+){0,4} (be )?(ready|done|finished|delivered|shipped|completed|arrive|receive|get|expect)\b", 0.8),
    ("project_status", "how_is_it_going", r"\bhow (is|are) (my|our|the) (order|project|model|job|files?)( \w+)? (going|coming along|progressing)\b", 0.8),
    ("project_status", "how_it_is_going", r"\bhow (my|our|the) (order|project|model|job|print|files?) (is|are) (going|coming along|progressing|doing)\b", 0.8),
    ("project_status", "is_it_ready", r"\b(is|are) (my|our|the) (order|project|model|files?|job|parts?) (ready|done|finished|shipped)\b", 0.8),
    ("project_status", "tracking", r"\btracking (number|link|code)\b", 0.6),
    # new project
    ("new_project", "quote", r"\b(quote|quotation|estimate|price offer|pricing)\b", 0.7),
    ("new_project", "how_much", r"\bhow much (would|will|does|do|is) (it|this|that|you)\b|\bwhat would it cost\b", 0.65),
    ("new_project", "new_job", r"\b(new|another) (project|job|order|model) (for you|request)?\b|\bplace an order\b", 0.7),
    ("new_project", "prepare_for_print", r"\b(prepare|prep|optimi[sz]e|repair|fix|make|get) (this|these|my|the|a|our|an?) (\w+ )?(model|models|file|files|stl|mesh|scan|design|part|parts|figurine)( \w+){0,3} (for|ready for) (3d )?print", 0.9),
    ("new_project", "printable", r"\b(ready|suitable|prepared) for (3d )?print(ing)?\b", 0.5),
    ("new_project", "would_like_to_order", r"\b(would like|want|wish) (you )?to (order|commission|hire you|have (a|an|my|this|these) (\w+ )?(model|file|part)s? (prepared|printed|fixed|optimi[sz]ed))", 0.65),
    ("new_project", "attached_file", r"\b(please find attached|attached (is|are|you will find)|i('ve| have) attached|see attached|in the attachment)\b", 0.35),
    ("new_project", "3d_print", r"\b3d[- ]?print(ing|ed|able)?\b", 0.3),
    # technical question
    ("technical_question", "delete_geometry", rf"\b(delete|remove|get rid of|take off|strip|add|generate) (the |all |these |those |any |some )?(\w+ )?{_TECH}\b", 0.9),
    ("technical_question", "print_vocabulary", r"\b(support structures?|supports|wall thickness|infill|layer height|layers|overhangs?|non-manifold|manifold|watertight|mesh|triangles|vertices|normals|slicer|slicing|tolerances?|nozzle|resin|fdm|sla|sls|polygon count|hollowing|hollow|drain holes?|print orientation|file format|units|scale)\b", 0.55),
    ("technical_question", "how_do_i", r"\bhow (do|can|should|would) (i|we|you) (\w+ ){0,3}(export|import|open|scale|fix|repair|orient|slice|print|convert|check|upload|send)\b", 0.5),
    ("technical_question", "which_format", r"\b(which|what) (file )?(formats?|resolution|tolerance|thickness|units)\b", 0.65),
    # billing
    ("billing", "invoice", r"\b(invoice|invoices|invoiced|credit note)\b", 0.8),
    ("billing", "payment", r"\b(payment|paid|pay|refund|refunded|reimburse|charged|overcharged|billing|bank transfer|vat|direct debit)\b", 0.7),
    ("billing", "receipt", r"\breceipts?\b(?! of (the|this|my|your|our) (request|letter|application|complaint|objection))", 0.45),
    # reminder / follow-up
    ("reminder", "reminder_word", r"\b(reminder|follow(ing)?[- ]up|overdue)\b", 0.7),
    ("reminder", "admonition", r"\badmonitions?\b", 0.45),
    ("reminder", "no_answer_yet", r"\b(have|has) not (yet )?(received|heard|got)|\bhaven't (yet )?(received|heard|got)|\bnot (yet )?received (an? |any )?(answer|reply|response)|\bno (answer|reply|response)( \w+){0,3} (yet|so far)\b|\bnever (got|received) (an? |any )?(answer|reply|response)", 0.8, KEEP),
    ("reminder", "still_waiting", r"\bstill (waiting|no|not|haven't)\b", 0.6, KEEP),
    ("reminder", "contacting_again", r"\b(contacting|writing to|emailing) you (once )?again\b|\bwriting again\b|\bsecond (request|time|email|e-mail)\b", 0.85),
    ("reminder", "asked_before", r"\b(already|previously) (sent|wrote|asked|requested|emailed)\b|\bas (i )?(requested|asked|mentioned) (before|previously|earlier)\b|\bmy (previous|earlier|last) (email|e-mail|message|request|letter)\b", 0.75),
    ("reminder", "deadline_passed", r"\b(deadline|period|time limit)( \S+){0,8} (has )?(passed|expired|exceeded|elapsed|is exceeded|is therefore exceeded)\b", 0.7),
    # complaint / threat to go to the supervisory authority
    ("complaint", "lodge_complaint", r"\b(lodg(e|ing)|fil(e|ing)|submit(ting)?|mak(e|ing)) (a|this|my) (formal )?complaint\b", 0.85),
    ("complaint", "complaint_under_law", r"\bcomplaint (according to|under|pursuant to) (art|article|section)", 0.85),
    ("complaint", "authority", r"\b(supervisory authority|data protection authority|data protection commissioner|information commissioner|ico|regulator)\b", 0.5),
    ("complaint", "report_you", r"\b(report|reporting) (you|this|your company|your firm) to\b|\bi (will|am going to|shall) (complain|report|escalate|contact the (ico|authority|regulator))", 0.7),
    ("complaint", "want_to_complain", r"\b(i want to|i wish to|i'd like to|i would like to) (complain|file a complaint|make a complaint)\b", 0.7),
    # other: auto-replies and bare thanks
    ("other", "out_of_office", r"\b(out of (the )?office|automatic reply|auto-?reply|away from (the|my) (office|desk)|on (annual )?(leave|vacation|holiday) until|limited access to (my )?e-?mail|i will be back on|i am currently away)\b", 0.9),
    ("other", "thanks_only", r"^(many )?(thanks|thank you)( very much| so much)?[ !.]*$", 0.6),
)
# fmt: on
