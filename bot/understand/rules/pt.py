# ruff: noqa: E501
"""Portuguese rules (European and Brazilian spelling)."""

from __future__ import annotations

from bot.understand.rules._flags import KEEP

_W = r"(\S+ )"
_FIELD = r"(dados|morada|endereço|nome|apelido|número|telefone|telemóvel|celular|e-mail|email)"

# One rule per line: (intent, slug, pattern, weight[, flags]).
# fmt: off
RULES = (
    # access
    ("access", "direito_acesso", r"\b(direito de acesso|pedido de acesso)\b|\bsolicit\w+,? (\S+ ){0,4}acesso\b|\bacesso aos (meus )?(\S+ )?dados\b", 0.85),
    ("access", "copia_dados", rf"\bcópia (de |dos )?(todos )?(os )?(meus )?{_W}{{0,2}}dados\b", 0.85),
    ("access", "quais_dados", rf"\bquais (dados|informações) {_W}{{0,5}}(têm|possuem|guardam|tratam|armazenam)\b", 0.8),
    ("access", "portabilidade", r"\bportabilidade\b", 0.75),
    # deletion
    ("deletion", "apagar_dados", rf"\b(apagar|apaguem|apague|eliminar|eliminem|elimine|excluir|excluam|exclua|apagamento|eliminação|exclusão|remover|removam) {_W}{{0,4}}(dados|conta|informações|perfil)\b", 0.9),
    ("deletion", "direito_esquecimento", r"\bdireito (ao esquecimento|ao apagamento|de eliminação)\b", 0.85),
    ("deletion", "encerrar_conta", r"\b(encerrar|fechar|cancelar) (a )?minha conta\b", 0.7),
    # correction
    ("correction", "retificar", rf"\b(retificação|rectificação|retificar|rectificar|corrigir|corrijam|atualizar|atualizem|actualizar|alterar|alterem|mudar) {_W}{{0,3}}{_FIELD}\b", 0.85),
    ("correction", "novo_endereco", r"\b(o meu|meu) novo (endereço|número|telefone|telemóvel|e-mail|email|nome)\b|\b(a minha|minha) nova morada\b", 0.8),
    ("correction", "dados_incorretos", rf"\b(dados|morada|endereço|nome) {_W}{{0,2}}(incorretos?|errados?|inexatos?|desatualizados?)\b", 0.7),
    ("correction", "seguintes_alteracoes", r"\bseguintes alterações\b|\bmudei de (casa|morada|endereço)\b", 0.5),
    # restriction
    ("restriction", "limitacao", r"\blimitação (do|de) (\S+ )?tratamento\b|\blimitar (\S+ ){0,3}tratamento\b", 0.85),
    # opt-out / objection
    ("optout", "oposicao", rf"\b(me oponho|oponho-me|oposição) {_W}{{0,6}}(tratamento|marketing|publicidade)", 0.85),
    ("optout", "marketing_direto", r"\b(marketing direto|comunicações comerciais)\b", 0.55),
    ("optout", "cancelar_subscricao", r"\b(cancelar|anular) (a )?(minha )?(inscrição|subscrição|assinatura)\b|\bdescadastr\w+", 0.9),
    ("optout", "nao_quero_receber", rf"\bnão {_W}{{0,2}}(quero|desejo) {_W}{{0,2}}receber\b", 0.9, KEEP),
    ("optout", "parem_de", r"\bparem de (me )?(enviar|mandar|contactar|contatar)\b", 0.9),
    ("optout", "revogo_consentimento", r"\b(revogo|retiro) (\S+ ){0,2}consentimento\b", 0.35),
    # usage report
    ("usage_report", "como_usados", rf"\b(como|para que fins?|para que) {_W}{{0,4}}(usad|utilizad|tratad|partilhad|compartilhad)\w* {_W}{{0,3}}dados\b", 0.85),
    ("usage_report", "com_quem", rf"\b(com quem|a quem) {_W}{{0,4}}(partilh|compartilh|cedid|vendid|divulgad)\w*", 0.85),
    ("usage_report", "destinatarios", r"\bdestinatários\b", 0.3),
    # project status
    ("project_status", "estado_pedido", rf"\b(estado|situação|andamento) (do|da) {_W}{{0,2}}(pedido|encomenda|projeto|modelo)\b|\bonde está (o meu|a minha|meu|minha) (pedido|encomenda|projeto)\b", 0.85),
    ("project_status", "quando_pronto", rf"\bquando {_W}{{0,5}}(pronto|pronta|prontos|terminado|enviado|enviada|entregue)\b", 0.85),
    ("project_status", "novidades", r"\b(novidades|atualizações)\b", 0.5),
    # new project
    ("new_project", "orcamento", r"\b(orçamento|cotação)\b", 0.75),
    ("new_project", "novo_projeto", r"\bnovo (projeto|pedido|trabalho)\b|\bnova encomenda\b", 0.75),
    ("new_project", "preparar_impressao", rf"\b(preparar|otimizar|reparar) {_W}{{0,4}}(impressão|imprimir)\b", 0.85),
    ("new_project", "quanto_custa", r"\bquanto (custa|custaria)\b", 0.6),
    ("new_project", "anexo", r"\b(em anexo|segue anexo|anexei|anexo)\b", 0.35),
    # technical question
    ("technical_question", "remover_suportes", r"\b(remover|eliminar|tirar|apagar|excluir|adicionar) (\S+ ){0,2}(suportes|camadas|faces|triângulos)\b", 0.9),
    ("technical_question", "vocabulario", r"\b(suportes|estruturas de suporte|espessura (da )?parede|preenchimento|altura (de |da )?camada|camadas|malha|triângulos|saliências|tolerância|resina|formato (de )?(ficheiro|arquivo)|escala)\b", 0.55),
    ("technical_question", "como_posso", r"\bcomo (posso|devo|faço)\b|\bque formato\b", 0.5),
    # billing
    ("billing", "fatura", r"\b(fatura|faturas|factura|facturas|faturação)\b", 0.8),
    ("billing", "pagamento", r"\b(pagamento|paguei|reembolso|cobrado|cobrança|iva|transferência bancária)\b", 0.7),
    # reminder
    ("reminder", "sem_resposta", r"\bnão recebi (\S+ ){0,2}resposta\b|\bsem resposta\b|\bainda (aguardo|estou à espera)\b", 0.8, KEEP),
    ("reminder", "ainda_nao", r"\bainda não\b", 0.45, KEEP),
    ("reminder", "novamente", r"\b(contato|contacto|contacto-vos|escrevo) (\S+ ){0,2}(novamente|de novo)\b", 0.85),
    ("reminder", "lembrete", r"\blembrete\b", 0.6),
    ("reminder", "advertencia", r"\badvertências?\b", 0.45),
    ("reminder", "prazo_excedido", r"\b(período|prazo) (\S+ ){0,10}(excedido|expirado|ultrapassado)\b", 0.7),
    # complaint
    ("complaint", "apresentar_queixa", r"\b(apresentar|apresento) (\S+ ){0,2}(queixa|reclamação)\b", 0.85),
    ("complaint", "autoridade", r"\b(cnpd|anpd|autoridade (de controlo|de controle|supervisora))\b", 0.5),
    # other
    ("other", "fora_escritorio", r"\b(fora do escritório|de férias|resposta automática|estarei de volta|ausente)\b", 0.9),
    ("other", "obrigado", r"^(muito )?obrigad[oa][ !.]*$", 0.6),
)
# fmt: on
