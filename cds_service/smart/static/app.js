// The SMART app's page: load the Questionnaire of this patient's missing facts, render it with
// LHC-Forms, let the clinician review every value, save only on an explicit confirmation, then show
// what was written (with links) and the advice as it is now. All FHIR access happens on the server
// with the app's own token; this page only talks to /smart/api/*.
(function () {
  'use strict';
  const params = new URLSearchParams(window.location.search);
  const lang = params.get('lang') || ((navigator.language || 'nl').startsWith('nl') ? 'nl' : 'en');
  const $ = (id) => document.getElementById(id);
  let questionnaireResponse = null;
  const units = {}; // linkId → UCUM unit of the question, shown in the review

  document.documentElement.lang = lang;
  document.querySelectorAll('[data-nl]').forEach((el) => { el.textContent = el.dataset[lang]; });
  const T = {
    nl: { none: 'Er ontbreken geen gegevens die hier vastgelegd kunnen worden.', nothing: 'Vul eerst minstens één vraag in.',
          failed: 'Mislukt', patient: 'Patiënt', user: 'Gebruiker' },
    en: { none: 'No missing data can be recorded here.', nothing: 'Answer at least one question first.',
          failed: 'Failed', patient: 'Patient', user: 'User' },
  }[lang];

  function li(parent, text, cls) {
    const el = document.createElement('li');
    if (cls) el.className = cls;
    el.textContent = text;
    parent.appendChild(el);
    return el;
  }

  function showCards(list, cards) {
    list.replaceChildren();
    for (const card of cards) {
      const el = li(list, '', 'card indicator-' + card.indicator);
      el.dataset.rule = card.rule;
      el.append(card.summary);
      const rule = document.createElement('span');
      rule.className = 'rule';
      rule.textContent = card.rule;
      el.appendChild(rule);
    }
  }

  function showErrors(messages) {
    const box = $('errors');
    box.replaceChildren();
    if (!messages.length) { box.hidden = true; return; }
    const ul = document.createElement('ul');
    messages.forEach((m) => li(ul, m));
    box.appendChild(ul);
    box.hidden = false;
  }

  async function call(path, options) {
    const reply = await fetch(path, { credentials: 'same-origin', ...options });
    const body = await reply.json().catch(() => ({}));
    if (!reply.ok) {
      const problems = (body.problems || []).map((p) => p.message);
      throw Object.assign(new Error(body.message || T.failed + ' (HTTP ' + reply.status + ')'), { problems });
    }
    return body;
  }

  function answerText(answer) {
    if ('valueBoolean' in answer) return String(answer.valueBoolean);
    if ('valueInteger' in answer) return String(answer.valueInteger);
    if ('valueDecimal' in answer) return String(answer.valueDecimal);
    if ('valueQuantity' in answer) return answer.valueQuantity.value + ' ' + (answer.valueQuantity.code || answer.valueQuantity.unit || '');
    if ('valueCoding' in answer) return answer.valueCoding.display || answer.valueCoding.code;
    return JSON.stringify(answer);
  }

  function answered(items, out) {
    for (const item of items || []) {
      if (item.answer && item.answer.length) out.push(item);
      answered(item.item, out);
    }
    return out;
  }

  /** lhc-forms.js defines LForms.Util once its Angular module has started: wait for it (at most 20 s). */
  async function lformsReady() {
    for (let waited = 0; waited < 20000; waited += 50) {
      if (window.LForms && LForms.Util && LForms.Util.addFormToPage && LForms.Util.getFormFHIRData) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('LHC-Forms did not load');
  }

  async function load() {
    const data = await call('api/questionnaire?lang=' + lang);
    $('title').textContent = data.questionnaire.title;
    $('context').textContent = T.patient + ': ' + data.patient + (data.user ? ' · ' + T.user + ': ' + data.user : '');
    showCards($('cards-before'), data.cards);
    const questions = (data.questionnaire.item || []).filter((i) => i.type !== 'group' && i.type !== 'display');
    for (const q of questions) {
      const unit = (q.extension || []).find((e) => e.url.endsWith('/questionnaire-unit'));
      if (unit) units[q.linkId] = unit.valueCoding.code;
    }
    if (!questions.length) $('review').hidden = true;
    if (!(data.questionnaire.item || []).length) { $('form').textContent = T.none; return; }
    await lformsReady();
    await LForms.Util.addFormToPage(data.questionnaire, 'form', { fhirVersion: 'R4' });
    document.body.dataset.state = 'form';
  }

  $('review').addEventListener('click', () => {
    questionnaireResponse = LForms.Util.getFormFHIRData('QuestionnaireResponse', 'R4', $('form'));
    const items = answered(questionnaireResponse.item, []);
    if (!items.length) { showErrors([T.nothing]); return; }
    showErrors([]);
    const list = $('to-write');
    list.replaceChildren();
    items.forEach((item) => {
      const value = answerText(item.answer[0]);
      const unit = units[item.linkId] && !('valueQuantity' in item.answer[0]) ? ' ' + units[item.linkId] : '';
      li(list, item.text + ': ' + value + unit);
    });
    $('confirm').hidden = false;
    $('review').hidden = true;
    document.body.dataset.state = 'confirm';
  });

  $('back').addEventListener('click', () => {
    $('confirm').hidden = true;
    $('review').hidden = false;
    document.body.dataset.state = 'form';
  });

  $('save').addEventListener('click', async () => {
    $('save').disabled = true;
    try {
      const body = await call('api/save?lang=' + lang, {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ questionnaireResponse, confirmed: true }),
      });
      showErrors([]);
      const list = $('written');
      list.replaceChildren();
      for (const w of body.written) {
        const el = li(list, '');
        const a = document.createElement('a');
        a.href = w.url;
        a.textContent = w.resourceType + '/' + w.id;
        el.append((w.label ? w.label + ' = ' + w.value + ' → ' : ''), a);
      }
      showCards($('cards-after'), body.cards);
      $('questions').hidden = true;
      $('confirm').hidden = true;
      $('result').hidden = false;
      document.body.dataset.state = 'saved';
    } catch (err) {
      showErrors(err.problems && err.problems.length ? err.problems : [err.message]);
      $('confirm').hidden = true;
      $('review').hidden = false;
      document.body.dataset.state = 'refused';
    } finally {
      $('save').disabled = false;
    }
  });

  load().catch((err) => { showErrors([err.message]); document.body.dataset.state = 'error'; });
})();
