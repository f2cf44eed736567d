/**
 * Asks the operator to confirm one action in the page's `<dialog>`: `text` says what will happen, `ok` labels the
 * button that does it. Resolves true only for that button; Escape, Cancel and closing the dialog resolve false.
 */
export function confirmAction (dialog: HTMLDialogElement, text: string, ok: string): Promise<boolean> {
  const textEl = dialog.querySelector<HTMLElement>('[data-confirm-text]')
  const okButton = dialog.querySelector<HTMLButtonElement>('button[value="ok"]')
  if (textEl !== null) textEl.textContent = text
  if (okButton !== null) okButton.textContent = ok
  dialog.returnValue = ''
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true })
    dialog.showModal()
    dialog.querySelector<HTMLButtonElement>('button[value="cancel"]')?.focus()
  })
}
