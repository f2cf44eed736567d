/** The console's views, in tab order; the default is the first. */
export const TABS = ['nodes', 'mesh', 'events', 'history'] as const

/** One of the console's views. */
export type Tab = typeof TABS[number]

function tabOf (hash: string): Tab {
  const name = hash.replace(/^#/, '')
  return (TABS as readonly string[]).includes(name) ? name as Tab : TABS[0]
}

/**
 * Switches between the `[data-section]` panels with the `[data-tab]` buttons. The chosen tab lives in the URL's
 * hash (`/ui/#mesh`), so a reload or a link opens the same view. `onShow` hears every change, and the first tab.
 */
export class Tabs {
  private readonly root: HTMLElement
  private readonly onShow: (tab: Tab) => void
  current: Tab

  /** `signal` removes the listeners on the buttons and the window. */
  constructor (root: HTMLElement, onShow: (tab: Tab) => void, signal: AbortSignal) {
    this.root = root
    this.onShow = onShow
    this.current = tabOf(location.hash)
    for (const button of root.querySelectorAll<HTMLButtonElement>('[data-tab]')) {
      button.addEventListener('click', () => { location.hash = button.dataset.tab ?? '' }, { signal })
    }
    window.addEventListener('hashchange', this.onHash, { signal })
    this.apply()
  }

  private readonly onHash = (): void => {
    const tab = tabOf(location.hash)
    if (tab === this.current) return
    this.current = tab
    this.apply()
  }

  private apply (): void {
    for (const button of this.root.querySelectorAll<HTMLButtonElement>('[data-tab]')) {
      button.setAttribute('aria-selected', String(button.dataset.tab === this.current))
    }
    for (const section of this.root.querySelectorAll<HTMLElement>('[data-section]')) {
      section.hidden = section.dataset.section !== this.current
    }
    this.onShow(this.current)
  }
}
