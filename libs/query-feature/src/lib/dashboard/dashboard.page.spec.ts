import { DASHBOARD_HTML } from './dashboard.page';
import { DASHBOARD_JS } from './dashboard.script';

// File names, sensor names and error messages reach the page from the API and /events: they must only
// ever become text (textContent, setAttribute), never markup.
describe('dashboard page', () => {
  it('the script has no HTML sink', () => {
    for (const sink of ['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'createContextualFragment', 'DOMParser', 'eval(', 'new Function']) {
      expect([sink, DASHBOARD_JS.includes(sink)]).toEqual([sink, false]);
    }
  });

  it('the page itself holds no inline handlers that could take data', () => {
    expect(DASHBOARD_HTML).not.toMatch(/\son[a-z]+=/i);
  });
});
