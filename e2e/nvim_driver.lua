--- Drives a real headless Neovim through chatls's shipped config (editors/nvim/init.lua is
--- loaded with -u before this file) and writes what happened as JSON to $CHATLS_E2E_OUT.
--- $CHATLS_E2E_SCENARIO names one of the `scenarios` below (default: refactor_and_explain).
--- Run by e2e/test_nvim.py.
---
--- A new scenario is one function in `scenarios`: it gets the code buffer (chatls already
--- attached), uses the helpers here, puts what the test should check into `result`, and
--- returns nothing (or errors with a sentence, which fails the test with that sentence).

local out_path = assert(os.getenv('CHATLS_E2E_OUT'), 'CHATLS_E2E_OUT is not set')
local scenario_name = os.getenv('CHATLS_E2E_SCENARIO') or 'refactor_and_explain'
local result = { scenario = scenario_name, progress = {}, statuses = {}, steps = {} }

local function finish(ok, err)
  result.messages = vim.api.nvim_exec2('messages', { output = true }).output
  result.ok = ok
  result.error = err
  local file = assert(io.open(out_path, 'w'))
  file:write(vim.json.encode(result))
  file:close()
  vim.cmd(ok and 'qa!' or 'cquit! 1')
end

--- Record the step about to run (the test prints the steps of a failure).
local function step(name)
  table.insert(result.steps, name)
end

--- Wait up to `ms` for `condition`; true when it held. The scenario runs in a coroutine:
--- waiting yields to Neovim's main loop (a timer resumes it), so keys fed to insert mode,
--- the completion menu and ghost text are handled meanwhile as for a person typing.
local function wait_until(ms, condition)
  local co, is_main = coroutine.running()
  if not co or is_main then
    return vim.wait(ms, condition, 50)
  end
  local deadline = vim.uv.hrtime() + ms * 1e6
  while not condition() do
    if vim.uv.hrtime() > deadline then
      return false
    end
    vim.defer_fn(function()
      local ok, err = coroutine.resume(co)
      if not ok then
        finish(false, tostring(err))
      end
    end, 50)
    coroutine.yield()
  end
  return true
end

--- Wait up to `ms` for `condition`; error with `what` when it never holds.
local function wait_for(ms, condition, what)
  if not wait_until(ms, condition) then
    error(('%s within %d s'):format(what, ms / 1000), 0)
  end
end

--- Type `keys` as a person would (mappings apply; insert mode stays open until an <Esc>).
local function type_keys(keys)
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(keys, true, false, true), 'mt', false)
end

local function text_of(bufnr)
  return table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), '\n')
end

--- How many chatls progress sequences have ended so far.
local function progress_ends()
  local count = 0
  for _, event in ipairs(result.progress) do
    if event.kind == 'end' then
      count = count + 1
    end
  end
  return count
end

--- Select lines `first`..`last` linewise and leave visual mode, so '< and '> mark them
--- (what `:'<,'>` commands read).
local function select_lines(first, last)
  vim.cmd(('normal! %dGV%dG'):format(first, last))
  vim.cmd('normal! \27')
end

--- The window showing a markdown file, if any.
local function markdown_window()
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(win)):match('%.md$') then
      return win
    end
  end
  return nil
end

vim.api.nvim_create_autocmd('LspProgress', {
  callback = function(ev)
    local value = ev.data.params.value or {}
    table.insert(result.progress, { kind = value.kind, title = value.title, message = value.message })
    table.insert(result.statuses, require('chatls').status())
  end,
})

local scenarios = {}

--- Waits until chatls has asked `asked` Apply/Discard questions, the last one about `what`,
--- then until the answer (Apply) changed `buf` from `original`.
local function wait_asked_then_applied(asked, what, buf, original)
  wait_for(30000, function()
    return #result.asked >= asked
  end, 'chatls did not ask before applying ' .. what)
  wait_for(30000, function()
    return text_of(buf) ~= original
  end, 'Apply did not change the buffer')
end

--- :ChatlsRefactor on lines 7-13 with an instruction, then :ChatlsExplain on them.
function scenarios.refactor_and_explain(code_buf)
  local original = text_of(code_buf)

  step('refactor')
  select_lines(7, 13)
  vim.cmd("'<,'>ChatlsRefactor make it correct for even lengths")
  local changed = wait_until(30000, function()
    return text_of(code_buf) ~= original
  end)
  result.refactored = text_of(code_buf)
  if not changed then
    error('the buffer did not change within 30 s', 0)
  end
  wait_for(10000, function()
    return progress_ends() >= 1
  end, 'the refactor progress did not end')

  step('explain')
  vim.api.nvim_set_current_buf(code_buf)
  select_lines(7, 13)
  vim.cmd("'<,'>ChatlsExplain")
  wait_for(30000, function()
    return markdown_window() ~= nil
  end, 'no markdown window opened')
  local md_buf = vim.api.nvim_win_get_buf(markdown_window())
  result.explanation_path = vim.api.nvim_buf_get_name(md_buf)
  result.explanation = text_of(md_buf)
  result.windows = #vim.api.nvim_list_wins()
  result.code_still_visible = vim.fn.bufwinid(code_buf) ~= -1
  wait_for(10000, function()
    return progress_ends() >= 2
  end, 'the explain progress did not end')
end

--- The built-in `gra` on a linewise selection of lines 7-13, picking "Refactor with AI"
--- from the menu Neovim offers (vim.ui.select, answered here as a person would).
function scenarios.code_action_menu(code_buf)
  local original = text_of(code_buf)
  local pick = os.getenv('CHATLS_E2E_PICK') or 'Refactor with AI'
  local offered
  vim.ui.select = function(items, opts, on_choice)
    offered = {}
    local chosen, chosen_index
    for index, item in ipairs(items) do
      local title = (opts.format_item and opts.format_item(item)) or tostring(item)
      -- Neovim's items are { action = CodeAction, ctx = ... }; keep the plain title.
      local action_title = type(item) == 'table' and item.action and item.action.title or title
      table.insert(offered, action_title)
      if action_title == pick then
        chosen, chosen_index = item, index
      end
    end
    on_choice(chosen, chosen_index)
  end

  step('gra')
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes('7GV13Ggra', true, false, true), 'x', false)
  wait_for(20000, function()
    return offered ~= nil
  end, 'gra offered no code-action menu')
  result.offered = offered
  local changed = wait_until(30000, function()
    return text_of(code_buf) ~= original
  end)
  result.refactored = text_of(code_buf)
  if not changed then
    error(('the buffer did not change within 30 s after picking %q from %s'):format(pick, vim.inspect(offered)), 0)
  end
  wait_for(10000, function()
    return progress_ends() >= 1
  end, 'the progress did not end')
end

--- The chatls clients running, by id.
local function chatls_client_ids()
  local ids = {}
  for _, client in ipairs(vim.lsp.get_clients({ name = 'chatls' })) do
    table.insert(ids, client.id)
  end
  return ids
end

--- Answer every `vim.ui.select` (chatls's questions: the model list, Apply/Discard) with the
--- first item whose title contains the next of `picks`, as a person would; remember what was
--- asked. `on_ask(prompt, titles)` runs before answering.
local function answer_selects(picks, on_ask)
  result.asked = {}
  vim.ui.select = function(items, opts, on_choice)
    local titles = {}
    for _, item in ipairs(items) do
      table.insert(titles, (opts.format_item and opts.format_item(item)) or tostring(item))
    end
    table.insert(result.asked, { prompt = opts.prompt, titles = titles })
    if on_ask then
      on_ask(opts.prompt, titles)
    end
    local want = table.remove(picks, 1)
    for index, title in ipairs(titles) do
      if want and title:find(want, 1, true) then
        return on_choice(items[index], index)
      end
    end
    on_choice(nil, nil)
  end
end

--- :ChatlsAsk on lines 7-13, then a follow-up written under the transcript's last "## You"
--- and sent with :ChatlsSend: the transcript must join the code's chatls client.
function scenarios.ask_then_send(code_buf)
  local code_client = vim.lsp.get_clients({ bufnr = code_buf, name = 'chatls' })[1]

  step('ask')
  select_lines(7, 13)
  vim.cmd("'<,'>ChatlsAsk why does it pick the upper middle?")
  wait_for(30000, function()
    return markdown_window() ~= nil
  end, 'no transcript opened')
  local md_buf = vim.api.nvim_win_get_buf(markdown_window())
  result.transcript_path = vim.api.nvim_buf_get_name(md_buf)
  wait_for(30000, function()
    return text_of(md_buf):find('first-answer-marker', 1, true) ~= nil
  end, 'the first answer did not reach the transcript')
  wait_for(10000, function()
    return vim.lsp.get_clients({ bufnr = md_buf, name = 'chatls' })[1] ~= nil
  end, 'no chatls client attached to the transcript')
  result.transcript_client = vim.lsp.get_clients({ bufnr = md_buf, name = 'chatls' })[1].id
  result.code_client = code_client.id

  step('follow-up')
  vim.api.nvim_set_current_win(markdown_window())
  local lines = vim.api.nvim_buf_get_lines(md_buf, 0, -1, false)
  if not vim.trim(lines[#lines] or ''):match('^## You') then
    vim.api.nvim_buf_set_lines(md_buf, -1, -1, false, { '' })
  end
  vim.api.nvim_buf_set_lines(md_buf, -1, -1, false, { '', 'And what about odd lengths?' })
  vim.cmd('ChatlsSend')
  wait_for(30000, function()
    return text_of(md_buf):find('second-answer-marker', 1, true) ~= nil
  end, 'the follow-up answer did not reach the transcript')
  result.transcript = text_of(md_buf)
  result.clients = chatls_client_ids()

  step('show again with a draft typed')
  -- chatls shows the transcript again after every answer: a draft typed meanwhile stays.
  vim.api.nvim_buf_set_lines(md_buf, -1, -1, false, { 'a draft not sent yet' })
  require('chatls').show_document(nil, { uri = vim.uri_from_bufnr(md_buf), takeFocus = true },
    { client_id = result.code_client, method = 'window/showDocument' })
  result.draft_kept = text_of(md_buf):find('a draft not sent yet', 1, true) ~= nil
end

--- :ChatlsModel picks a model through vim.ui.select (chatls asks with
--- window/showMessageRequest); :ChatlsExplain then uses it; :ChatlsUsage shows the tokens.
function scenarios.model_then_usage(code_buf)
  local pick = assert(os.getenv('CHATLS_E2E_PICK'), 'CHATLS_E2E_PICK is not set')
  answer_selects({ pick })

  step('model')
  vim.cmd('ChatlsModel')
  wait_for(20000, function()
    return vim.api.nvim_exec2('messages', { output = true }).output:find('using the model ' .. pick, 1, true) ~= nil
  end, 'chatls did not say it uses ' .. pick)

  step('explain')
  select_lines(7, 13)
  vim.cmd("'<,'>ChatlsExplain")
  wait_for(30000, function()
    return progress_ends() >= 1
  end, 'the explain progress did not end')

  step('usage')
  vim.api.nvim_set_current_buf(code_buf)
  vim.cmd('ChatlsUsage')
  wait_for(10000, function()
    return vim.api.nvim_exec2('messages', { output = true }).output:find('chatls usage this session', 1, true) ~= nil
  end, ':ChatlsUsage showed nothing')
end

--- With `edits.review = "confirm"`: :ChatlsRun of a custom edit row, answered Discard, then
--- :ChatlsRefactor, answered Apply. Each time the diff is shown and the code is untouched
--- while chatls asks.
function scenarios.review(code_buf)
  local original = text_of(code_buf)
  result.while_asked = {}
  answer_selects({ 'Discard', 'Apply' }, function()
    local diff_shown = false
    for _, win in ipairs(vim.api.nvim_list_wins()) do
      if vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(win)):match('%.diff$') then
        diff_shown = true
      end
    end
    table.insert(result.while_asked, { unchanged = text_of(code_buf) == original, diff_shown = diff_shown })
  end)

  step('run custom row, discard')
  select_lines(7, 13)
  vim.cmd("'<,'>ChatlsRun add-types")
  wait_for(30000, function()
    return #result.asked >= 1
  end, 'chatls did not ask before applying the custom row')
  wait_for(10000, function()
    return progress_ends() >= 1
  end, 'the first progress did not end')
  result.after_discard = text_of(code_buf)

  step('refactor, apply')
  vim.api.nvim_set_current_buf(code_buf)
  select_lines(7, 13)
  vim.cmd("'<,'>ChatlsRefactor make it correct for even lengths")
  wait_asked_then_applied(2, 'the refactor', code_buf, original)
  result.refactored = text_of(code_buf)
end

--- :ChatlsChange on lines 7-13: the model edits median.py and creates NOTES.md; the diff of
--- both is shown and Apply is chosen. Neovim gets `changes` (no documentChanges, so no
--- CreateFile): median.py's buffer changes and NOTES.md opens as a new buffer with its text;
--- `:wa` writes both.
function scenarios.change(code_buf)
  local original = text_of(code_buf)
  local root = vim.fn.getcwd()
  result.while_asked = {}
  answer_selects({ 'Apply' }, function(prompt)
    local diff_shown = false
    for _, win in ipairs(vim.api.nvim_list_wins()) do
      if vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(win)):match('%.diff$') then
        diff_shown = true
      end
    end
    table.insert(result.while_asked, {
      prompt = prompt,
      unchanged = text_of(code_buf) == original,
      diff_shown = diff_shown,
      notes_on_disk = vim.uv.fs_stat(root .. '/NOTES.md') ~= nil,
    })
  end)

  step('change')
  select_lines(7, 13)
  vim.cmd("'<,'>ChatlsChange rename median to middle_value and note it in NOTES.md")
  wait_asked_then_applied(1, 'the change', code_buf, original)
  result.changed = text_of(code_buf)
  local notes = vim.fn.bufnr(root .. '/NOTES.md')
  result.notes_buffer = notes ~= -1 and text_of(notes) or vim.NIL

  step('write all')
  vim.cmd('silent! wall')
  local file = io.open(root .. '/NOTES.md', 'r')
  result.notes_on_disk = file and file:read('*a') or vim.NIL
  if file then
    file:close()
  end
end

--- Typing at the end of line 10 in insert mode: on Neovim 0.12 the ghost text appears and
--- <Tab> (init.lua's mapping) accepts it; on 0.11 chatls's item shows in the completion menu
--- (after the trigger character ".") and <C-n><C-y> accepts it.
function scenarios.complete(code_buf)
  local inline = vim.lsp.inline_completion ~= nil
  result.mode = inline and 'inline' or 'popup'
  vim.api.nvim_win_set_cursor(0, { 13, 0 })
  -- What chatls answered (shown when the test fails).
  result.answers = {}
  local client = vim.lsp.get_clients({ bufnr = code_buf, name = 'chatls' })[1]
  local request = client.request
  client.request = function(self, method, params, handler, ...)
    if method == 'textDocument/completion' or method == 'textDocument/inlineCompletion' then
      local inner = handler
      handler = function(err, answer, ...)
        table.insert(result.answers, { method = method, err = err, answer = answer, mode = vim.api.nvim_get_mode().mode,
          line = vim.api.nvim_get_current_line() })
        if inner then
          return inner(err, answer, ...)
        end
      end
    end
    return request(self, method, params, handler, ...)
  end

  step('type')
  -- A new line under line 13, then a call that ends in the trigger character.
  type_keys('o    values.')
  if inline then
    local ns = vim.api.nvim_create_namespace('nvim.lsp.inline_completion')
    wait_for(20000, function()
      return #vim.api.nvim_buf_get_extmarks(code_buf, ns, 0, -1, {}) > 0
    end, 'no ghost text appeared')
    local mark = vim.api.nvim_buf_get_extmarks(code_buf, ns, 0, -1, { details = true })[1]
    local shown = {}
    for _, chunk in ipairs(mark[4].virt_text or {}) do
      table.insert(shown, chunk[1])
    end
    result.shown = table.concat(shown)
    step('accept')
    -- <Tab> accepts on the next tick (inline_completion.get() schedules it); a person's <Esc>
    -- comes later than that.
    type_keys('<Tab>')
    wait_for(10000, function()
      return vim.api.nvim_get_current_line() ~= '    values.'
    end, '<Tab> did not accept the ghost text')
    type_keys('<Esc>')
  else
    wait_for(20000, function()
      return vim.fn.pumvisible() == 1
    end, 'no completion menu appeared')
    local items = vim.fn.complete_info({ 'items' }).items
    result.shown = {}
    for _, item in ipairs(items) do
      table.insert(result.shown, item.word)
    end
    step('accept')
    local selected = vim.fn.complete_info({ 'selected' }).selected
    type_keys(selected == -1 and '<C-n><C-y>' or '<C-y>')
    wait_for(10000, function()
      return vim.api.nvim_get_current_line() ~= '    values.' and vim.fn.pumvisible() == 0
    end, '<C-y> did not accept the item')
    type_keys('<Esc>')
  end
  wait_for(10000, function()
    return vim.api.nvim_get_mode().mode == 'n'
  end, 'insert mode did not end')
  result.line = vim.api.nvim_buf_get_lines(code_buf, 13, 14, false)[1]
  result.text = text_of(code_buf)
end

local function run()
  local scenario = scenarios[scenario_name]
  if not scenario then
    error('no such scenario: ' .. scenario_name, 0)
  end
  local code_buf = vim.api.nvim_get_current_buf()
  result.file = vim.api.nvim_buf_get_name(code_buf)

  step('attach')
  wait_for(20000, function()
    local client = vim.lsp.get_clients({ bufnr = code_buf, name = 'chatls' })[1]
    return client ~= nil and client.initialized
  end, 'chatls did not attach to the buffer')
  local client = vim.lsp.get_clients({ bufnr = code_buf, name = 'chatls' })[1]
  result.offset_encoding = client.offset_encoding
  result.commands = (client.server_capabilities.executeCommandProvider or {}).commands

  scenario(code_buf)
  return finish(true, nil)
end

vim.schedule(function()
  local co = coroutine.create(function()
    local ok, err = pcall(run)
    if not ok then
      finish(false, tostring(err))
    end
  end)
  local ok, err = coroutine.resume(co)
  if not ok then
    finish(false, tostring(err))
  end
end)
