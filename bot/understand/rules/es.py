# ruff: noqa: E501
"""Spanish rules."""

from __future__ import annotations

from bot.understand.rules._flags import KEEP

_W = r"(\S+ )"
_FIELD = r"(datos|dirección|nombre|apellidos?|teléfono|número|correo|email|e-mail|domicilio)"

# One rule per line: (intent, slug, pattern, weight[, flags]).
# fmt: off
RULES = (
    # access
    ("access", "derecho_acceso", r"\b(derecho de acceso|solicitud de acceso)\b|\bsolicit\w+ (el )?acceso\b|\bacceso a (todos )?(mis|los) (\S+ )?(datos|información)\b", 0.85),
    ("access", "copia_datos", rf"\bcopia de (todos )?(mis |los |la )?{_W}{{0,2}}(datos|información)\b", 0.85),
    ("access", "que_datos", rf"\bqué (datos|información) {_W}{{0,5}}(tienen|tenéis|guardan|almacenan|tratan|procesan)\b", 0.8),
    ("access", "portabilidad", r"\bportabilidad\b", 0.75),
    # deletion
    ("deletion", "eliminar_datos", rf"\b(eliminar|eliminad|eliminen|elimine|borrar|borrad|borren|borre|suprimir|supriman|suprima|eliminación|supresión|borrado|cancelación) {_W}{{0,3}}(datos|cuenta|información|perfil)\b", 0.9),
    ("deletion", "derecho_olvido", r"\bderecho (al olvido|de supresión|de borrado)\b", 0.85),
    ("deletion", "cerrar_cuenta", r"\b(cerrar|cancelar|dar de baja) mi cuenta\b", 0.7),
    # correction
    ("correction", "rectificar", rf"\b(rectificación|rectificar|rectifiquen|corregir|corrijan|actualizar|actualicen|cambiar|cambien|modificar|modifiquen) {_W}{{0,3}}{_FIELD}\b", 0.85),
    ("correction", "mi_nuevo", r"\bmi nuev[oa] (dirección|número|teléfono|correo|nombre|email|domicilio)\b", 0.8),
    ("correction", "datos_erroneos", rf"\b(datos|dirección|nombre|apellidos?) {_W}{{0,2}}(erróneos?|incorrectos?|inexactos?|equivocad[oa]s?|desactualizad[oa]s?|mal escrit[oa]s?)\b", 0.7),
    ("correction", "siguientes_cambios", r"\bsiguientes cambios\b|\bme he mudado\b", 0.5),
    # restriction
    ("restriction", "limitacion", r"\b(limitación|restricción) del (\S+ )?(tratamiento|procesamiento)\b|\b(limitar|restringir|restrinja|limiten|restrinjan) (\S+ ){0,3}(tratamiento|procesamiento|uso)\b", 0.85),
    # opt-out / objection
    ("optout", "me_opongo", rf"\b(me opongo|oposición|objeción|objetando) {_W}{{0,6}}(tratamiento|procesamiento|marketing|publicidad)", 0.85),
    ("optout", "marketing_directo", r"\b(marketing directo|comunicaciones comerciales|correos publicitarios)\b", 0.55),
    ("optout", "darse_de_baja", r"\b(darme de baja|dadme de baja|denme de baja)\b|\bbaja de (la|su|vuestra) (lista|newsletter|boletín)", 0.85),
    ("optout", "no_quiero_recibir", rf"\b(no|ya no) {_W}{{0,2}}(quiero|deseo) {_W}{{0,2}}recibir\b", 0.9, KEEP),
    ("optout", "dejen_de", r"\b(dejen|dejad|deje) de (enviarme|mandarme|contactarme|escribirme)\b", 0.9),
    ("optout", "revoco_consentimiento", r"\b(revoco|retiro|retirando|revocando) (\S+ ){0,2}consentimiento\b", 0.35),
    # usage report
    ("usage_report", "como_usado", rf"\b(cómo|para qué|con qué fin(es)?) {_W}{{0,4}}(usado|utilizado|usan|utilizan|tratado|tratan|compartido) {_W}{{0,3}}datos\b", 0.85),
    ("usage_report", "con_quien", rf"\b(con quién|a quién|a quiénes) {_W}{{0,4}}(compartido|cedido|vendido|comunicado|transferido)\b", 0.85),
    ("usage_report", "destinatarios", r"\b(destinatarios|beneficiarios)\b", 0.3),
    # project status
    ("project_status", "estado_pedido", rf"\b(estado|situación) (de|del) {_W}{{0,2}}(pedido|proyecto|modelo|encargo)\b|\bdónde está (mi|el|nuestro) (pedido|proyecto|modelo|paquete|encargo)\b", 0.85),
    ("project_status", "cuando_listo", rf"\bcuándo {_W}{{0,5}}(listo|lista|listos|terminado|terminada|enviado|enviada|entregado|entregada)\b", 0.85),
    ("project_status", "novedades", r"\b(alguna )?novedad(es)?\b", 0.5),
    # new project
    ("new_project", "presupuesto", r"\b(presupuesto|cotización)\b", 0.75),
    ("new_project", "nuevo_proyecto", r"\bnuevo (proyecto|pedido|encargo)\b", 0.75),
    ("new_project", "preparar_impresion", rf"\b(preparar|optimizar|reparar) {_W}{{0,4}}(impresión|imprimir)\b", 0.85),
    ("new_project", "cuanto_cuesta", r"\bcuánto (cuesta|costaría)\b", 0.6),
    ("new_project", "adjunto", r"\b(adjunto|adjunta|adjuntos)\b", 0.35),
    # technical question
    ("technical_question", "quitar_soportes", r"\b(eliminar|quitar|borrar|elimino|quito|añadir) (\S+ ){0,2}(soportes|capas|caras|triángulos)\b", 0.9),
    ("technical_question", "vocabulario", r"\b(soportes|estructuras de soporte|grosor de pared|espesor de pared|relleno|altura de capa|capas|malla|triángulos|voladizos|tolerancia|resina|formato de archivo|escala)\b", 0.55),
    ("technical_question", "como_puedo", r"\bcómo (puedo|debo|hago)\b|\bqué formato\b", 0.5),
    # billing
    ("billing", "factura", r"\b(factura|facturas|facturación)\b", 0.8),
    ("billing", "pago", r"\b(pago|pagado|pagué|reembolso|cobrado|cobro|iva|transferencia bancaria)\b", 0.7),
    # reminder
    ("reminder", "sin_respuesta", r"\bno (he )?recibido (\S+ ){0,2}(respuesta|repuesta|contestación)\b|\bsin respuesta\b", 0.8, KEEP),
    ("reminder", "todavia_no", r"\bno he recibido\b|\btodavía no\b|\baún no\b", 0.45, KEEP),
    ("reminder", "de_nuevo", r"\b(os|les|le|te) (estoy )?(contact\w+|escrib\w+) (de nuevo|nuevamente|otra vez)\b|\bsigo esperando\b", 0.85),
    ("reminder", "recordatorio", r"\brecordatorio\b", 0.6),
    ("reminder", "amonestacion", r"\bamonestaci(ón|ones)\b", 0.45),
    ("reminder", "plazo_excedido", r"\b(período|periodo|plazo) (\S+ ){0,10}(excedido|vencido|superado)\b", 0.7),
    # complaint
    ("complaint", "presentar_queja", r"\b(presentar|presento|presentando|interponer|interpongo) (\S+ ){0,2}(queja|reclamación|denuncia)\b", 0.85),
    ("complaint", "autoridad", r"\b(aepd|agencia española de protección de datos|autoridad (de control|supervisora))\b", 0.5),
    # other
    ("other", "fuera_oficina", r"\b(fuera de la oficina|de vacaciones|respuesta automática|estaré de vuelta|ausente)\b", 0.9),
    ("other", "gracias", r"^¡?(muchas )?gracias[ !.]*$", 0.6),
)
# fmt: on
